package policy

import (
	"errors"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/transport"
	"github.com/weftmesh/weft/transport/route"
)

// ServiceConfig is one `services.<name>` section: how to call the service,
// how requests to it are routed among its subsets, and what its instances
// accept.
type ServiceConfig struct {
	engine.DestinationConfig `yaml:",inline"`
	route.Config             `yaml:",inline"`
	// Inbound, if not nil, limits what each instance of the service
	// accepts. Its instances apply it; callers ignore it.
	Inbound *transport.InboundConfig `yaml:"inbound"`
	// MTLS is the service's mode: whether its instances accept mutual
	// TLS, plaintext or both, and so whether callers use TLS to reach
	// them. If empty, the policy's security.mtls.
	MTLS security.Mode `yaml:"mtls"`
	// GRPCReflection makes the service's gRPC servers offer the server
	// reflection service, so that tools such as grpcurl can list and
	// call its methods without its .proto files. Reflection calls pass
	// the same mTLS and authorization as any other.
	GRPCReflection bool `yaml:"grpcReflection"`
}

// Validate checks the service's balancer keys, and its routes against its
// subsets; the other sections validate themselves.
func (c ServiceConfig) Validate() error {
	return errors.Join(c.DestinationConfig.Validate(), c.Config.Validate())
}
