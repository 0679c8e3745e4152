package transport

import (
	"errors"
	"time"

	"github.com/weftmesh/weft/resilience"

	"github.com/weftmesh/weft/resilience/breaker"
	"github.com/weftmesh/weft/resilience/limit"
	"github.com/weftmesh/weft/resilience/outlier"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/security/authz"
	"github.com/weftmesh/weft/security/extauthz"
	"github.com/weftmesh/weft/security/jwtauth"
	"github.com/weftmesh/weft/transport/route"
)

// DestinationConfig is how clients call one destination service. The policy
// file's `defaults` section and each `services.<name>` section decode into
// it; fields left empty in a service fall back to the defaults.
type DestinationConfig struct {
	// LoadBalancer names the picker: "round_robin", "least_request",
	// "peak_ewma", "ring_hash" or "random". If empty, "least_request".
	LoadBalancer string `yaml:"loadBalancer"`
	// HashKey names the header or cookie ring_hash hashes; set it with
	// ring_hash and only with it.
	HashKey resilience.HashKey `yaml:"hashKey"`
	// SlowStart ramps up the share of newly ready endpoints. If zero, off.
	SlowStart resilience.SlowStart `yaml:"slowStart"`
	// ZoneAware keeps traffic in the caller's zone while it is healthy
	// enough. If zero, off.
	ZoneAware resilience.ZoneAware `yaml:"zoneAware"`
	// Timeout bounds a whole call, connection, retries and response
	// headers included. If zero, 5 s in defaults; in a service, the
	// defaults' value.
	Timeout time.Duration `yaml:"timeout"`
	// Retries says which failed tries are sent again, and how often. If
	// nil, the defaults of [retry.Config]: one retry of a try that never
	// reached the server or met a gateway error, within a retry budget.
	Retries *retry.Config `yaml:"retries"`
	// CircuitBreaker, if not nil, gives every endpoint a breaker that takes
	// it out of picking while it fails.
	CircuitBreaker *breaker.Config `yaml:"circuitBreaker"`
	// OutlierDetection, if not nil, ejects endpoints that return errors in
	// a row, for longer each time.
	OutlierDetection *outlier.Config `yaml:"outlierDetection"`
}

// Validate checks the balancer keys together; the other sections validate
// themselves.
func (c DestinationConfig) Validate() error { return c.balancer().Validate() }

func (c DestinationConfig) balancer() resilience.BalancerConfig {
	return resilience.BalancerConfig{Name: c.LoadBalancer, HashKey: c.HashKey, SlowStart: c.SlowStart, ZoneAware: c.ZoneAware}
}

// ServiceConfig is one `services.<name>` section: how to call the service,
// and how requests to it are routed among its subsets.
type ServiceConfig struct {
	DestinationConfig `yaml:",inline"`
	route.Config      `yaml:",inline"`
	// Inbound, if not nil, limits what each instance of the service
	// accepts. Its instances apply it; callers ignore it.
	Inbound *InboundConfig `yaml:"inbound"`
	// MTLS is the service's mode: whether its instances accept mutual
	// TLS, plaintext or both, and so whether callers use TLS to reach
	// them. If empty, the policy's security.mtls.
	MTLS security.Mode `yaml:"mtls"`
}

// InboundConfig is a service's `inbound` section: what its instances
// accept. Callers ignore it.
type InboundConfig struct {
	limit.Config `yaml:",inline"`
	// JWT, if not nil, authenticates the end user of every request by
	// its token.
	JWT *jwtauth.Config `yaml:"jwt"`
	// Authorization, if not nil, says which callers may make which
	// requests.
	Authorization *authz.Config `yaml:"authorization"`
	// ExtAuthz, if not nil, asks an external authorization server about
	// every request the rules allowed.
	ExtAuthz *extauthz.Config `yaml:"extAuthz"`
}

// Validate checks the service's balancer keys, and its routes against its
// subsets; the other sections validate themselves.
func (c ServiceConfig) Validate() error {
	return errors.Join(c.DestinationConfig.Validate(), c.Config.Validate())
}

// EgressConfig controls requests to hosts that are not mesh services.
type EgressConfig struct {
	// Allow lists the hosts (exact names, or "*.example.com" for any
	// subdomain) clients may reach outside the mesh. If nil, any host is
	// allowed; an empty list forbids them all.
	Allow []string `yaml:"allow"`
}
