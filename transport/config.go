package transport

import (
	"github.com/weftmesh/weft/resilience/limit"
	"github.com/weftmesh/weft/security/authz"
)

// InboundConfig is a service's `inbound` section: what its instances
// accept. Callers ignore it.
type InboundConfig struct {
	limit.Config `yaml:",inline"`
	// Authorization, if not nil, says which callers may make which
	// requests.
	Authorization *authz.Config `yaml:"authorization"`
}

// EgressConfig controls requests to hosts that are not mesh services.
type EgressConfig struct {
	// Allow lists the hosts (exact names, or "*.example.com" for any
	// subdomain) clients may reach outside the mesh. If nil, any host is
	// allowed; an empty list forbids them all.
	Allow []string `yaml:"allow"`
}
