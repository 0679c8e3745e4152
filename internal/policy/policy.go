package policy

import (
	"reflect"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/telemetry"
	"github.com/weftmesh/weft/transport"
	"github.com/weftmesh/weft/transport/route"
)

// DefaultMeshName names the mesh of a node that has no policy file.
const DefaultMeshName = "weft"

// Version is the only policy file format version this package reads.
const Version = 1

// Policy is a decoded, validated policy file. A Policy is never modified
// after [Parse] returns it, so it may be shared between goroutines; a new
// version of the file gives a new Policy.
type Policy struct {
	// Version is the file format version; always [Version].
	Version int `yaml:"version"`
	// Mesh names the mesh and holds the key its gossip is encrypted with.
	Mesh Mesh `yaml:"mesh"`
	// Admin configures the node's admin listener.
	Admin Admin `yaml:"admin"`
	// Egress lists the non-mesh hosts clients may reach.
	Egress transport.EgressConfig `yaml:"egress"`
	// Defaults applies to every destination service; fields left empty
	// take the built-in defaults. See [Policy.Destination].
	Defaults engine.DestinationConfig `yaml:"defaults"`
	// Services configures calls to individual destination services, by
	// service name; fields left empty take the value from Defaults.
	Services map[string]ServiceConfig `yaml:"services"`
	// Security gives nodes their identities and sets the mTLS mode.
	Security security.Config `yaml:"security"`
	// Telemetry configures tracing, metric export and access logs.
	Telemetry telemetry.Config `yaml:"telemetry"`

	// Source is the file the policy was read from; "" for [Default].
	Source string `yaml:"-"`
	// Hash is the hex SHA-256 of the file's bytes; "" for [Default].
	Hash string `yaml:"-"`

	// positions maps the dotted path of every key present in the file to
	// the position of its value, so later checks can point at it.
	positions map[string]position
	// routing is the client side, normalised once when the policy is made.
	routing engine.Routing
}

// Mesh identifies the mesh a node joins.
type Mesh struct {
	// Name is the mesh's name, a DNS label. If empty, [DefaultMeshName].
	Name string `yaml:"name"`
	// GossipKey is the AES key (16, 24 or 32 bytes) that encrypts gossip
	// between nodes. In the file it is written base64, literally or as
	// "env:VAR" or "file:PATH"; here it is the decoded key. If nil, gossip
	// travels in clear text.
	GossipKey []byte `yaml:"gossipKey"`
	// TrustDomain is the SPIFFE trust domain of the mesh's identities,
	// such as "example.org". Required when security.identity is set.
	TrustDomain string `yaml:"trustDomain"`
	// Timing tunes gossip: a preset ("local", "lan", "wan") and the
	// numbers that override it. Zero fields are left to the node's
	// Config.Timing, then to the preset.
	Timing discovery.Timing `yaml:"timing"`
}

// Admin configures the node's admin HTTP listener.
type Admin struct {
	// Listen is the host:port the admin listener binds. If empty, the node
	// runs no admin listener.
	Listen string `yaml:"listen"`
	// Allow lists who may read the admin endpoint beyond its health and
	// metrics: service names (any instance of the service) and spiffe://
	// IDs, proved over mutual TLS. When it is set, or when Listen is not a
	// loopback address, only they may; on loopback without it, anyone on
	// the host may. Peers reading each other's counts for the dashboard
	// must be listed too.
	Allow []string `yaml:"allow"`
	// TapHeaders lists the request headers whose values the tap shows;
	// every other value is redacted. Headers that carry credentials
	// (Authorization, Cookie, ...) cannot be listed.
	TapHeaders []string `yaml:"tapHeaders"`
}

// position is a 1-based line and column in the policy file.
type position struct {
	line, column int
}

// Default returns the policy of a node started without a policy file: mesh
// [DefaultMeshName], no gossip encryption, no admin listener, any egress
// host, and the engine's default balancer and timeout for every
// destination.
func Default() *Policy {
	p := &Policy{
		Version:  Version,
		Mesh:     Mesh{Name: DefaultMeshName},
		Defaults: builtinDestination(),
	}
	p.normalise()
	return p
}

// builtinDestination is what a destination gets where neither its own
// section nor the defaults section says otherwise.
func builtinDestination() engine.DestinationConfig {
	return engine.DestinationConfig{LoadBalancer: engine.DefaultLoadBalancer, Timeout: engine.DefaultTimeout}
}

// normalise computes what the policy's users read as it is: the client
// side with every default applied.
func (p *Policy) normalise() {
	r := engine.Routing{
		Destinations: make(map[string]engine.DestinationConfig, len(p.Services)),
		Default:      p.Destination("").WithDefaults(),
	}
	for name, svc := range p.Services {
		r.Destinations[name] = p.Destination(name).WithDefaults()
		if len(svc.Subsets) > 0 || len(svc.Routes) > 0 {
			if r.Routes == nil {
				r.Routes = make(map[string]route.Config)
			}
			r.Routes[name] = svc.Config
		}
	}
	p.routing = r
}

// Routing returns the client side of the policy, normalised: every
// destination's configuration with each default applied, as the client
// engine uses it. A nil Policy behaves like [Default].
func (p *Policy) Routing() engine.Routing {
	if p == nil {
		return Default().routing
	}
	return p.routing
}

// Destination returns the configuration for calls to service: its section
// under services, with each empty field filled from defaults, and the
// balancer and timeout, if still empty, from the engine's defaults. A
// service the policy does not name gets the defaults. A nil Policy behaves
// like [Default]. [Policy.Routing] holds the result with every default
// applied.
func (p *Policy) Destination(service string) engine.DestinationConfig {
	builtin := builtinDestination()
	if p == nil {
		return builtin
	}
	cfg := p.Services[service].DestinationConfig
	fillDestination(&cfg, p.Defaults)
	fillDestination(&cfg, builtin)
	return cfg
}

// fillDestination sets each zero field of cfg to the one in from. It works
// field by field through reflection so that fields added to
// [engine.DestinationConfig] inherit defaults without a change here.
func fillDestination(cfg *engine.DestinationConfig, from engine.DestinationConfig) {
	dst, src := reflect.ValueOf(cfg).Elem(), reflect.ValueOf(from)
	for i := range dst.NumField() {
		if f := dst.Field(i); f.CanSet() && f.IsZero() {
			f.Set(src.Field(i))
		}
	}
}

// ShortHash returns the first 12 hex digits of Hash, enough to tell
// versions of a policy apart in logs; "" if Hash is empty.
func (p *Policy) ShortHash() string {
	if p == nil {
		return ""
	}
	if len(p.Hash) > 12 {
		return p.Hash[:12]
	}
	return p.Hash
}

// MTLS returns the mode of service: its own mtls key, else security.mtls,
// else strict with an identity and disabled without. A nil Policy behaves
// like [Default].
func (p *Policy) MTLS(service string) security.Mode {
	if p == nil {
		return security.Disabled
	}
	if m := p.Services[service].MTLS; m != "" {
		return m
	}
	return p.Security.DefaultMode()
}

// IDTemplate returns the mapping of service names to SPIFFE IDs; ok is
// false when the policy configures no identity.
func (p *Policy) IDTemplate() (t security.Template, ok bool) {
	if p == nil || !p.Security.Enabled() {
		return t, false
	}
	td, err := spiffeid.TrustDomainFromString(p.Mesh.TrustDomain)
	if err != nil {
		return t, false
	}
	t, err = security.ParseTemplate(p.Security.IDTemplate, td)
	return t, err == nil
}
