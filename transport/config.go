package transport

import (
	"github.com/weftmesh/weft/resilience/limit"
	"github.com/weftmesh/weft/security/authz"
	"github.com/weftmesh/weft/security/extauthz"
	"github.com/weftmesh/weft/security/jwtauth"
)

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

// EgressConfig controls requests to hosts that are not mesh services.
type EgressConfig struct {
	// Allow lists the hosts (exact names, or "*.example.com" for any
	// subdomain) clients may reach outside the mesh. If nil, any host is
	// allowed; an empty list forbids them all.
	Allow []string `yaml:"allow"`
}
