package engine

import (
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/breaker"
	"github.com/weftmesh/weft/resilience/leastrequest"
	"github.com/weftmesh/weft/resilience/outlier"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/transport/route"
)

// Defaults of [DestinationConfig], applied by [DestinationConfig.WithDefaults].
const (
	// DefaultLoadBalancer picks the endpoint with the fewest requests in
	// flight, which copes with uneven endpoints better than rotation.
	DefaultLoadBalancer = leastrequest.Name
	// DefaultTimeout bounds a whole call when nothing narrower is set.
	DefaultTimeout = 5 * time.Second
)

// DestinationConfig is how clients call one destination service, whatever
// the protocol. The policy file's `defaults` section and each
// `services.<name>` section decode into it; fields a service leaves empty
// take the defaults section's value, then the default stated on the field.
type DestinationConfig struct {
	// LoadBalancer names the balancer, one registered with
	// [resilience.Register]: "round_robin", "least_request", "peak_ewma",
	// "ring_hash" or "random". If empty, [DefaultLoadBalancer].
	LoadBalancer string `yaml:"loadBalancer"`
	// HashKey names the header (gRPC: metadata key) or cookie a hashing
	// balancer hashes; set it with such a balancer and only with it.
	HashKey resilience.HashKey `yaml:"hashKey"`
	// SlowStart ramps up the share of newly ready endpoints. If zero, off.
	SlowStart resilience.SlowStart `yaml:"slowStart"`
	// ZoneAware keeps traffic in the caller's zone while it is healthy
	// enough. If zero, off.
	ZoneAware resilience.ZoneAware `yaml:"zoneAware"`
	// Timeout bounds a whole call, connection, retries and response
	// headers included (a gRPC stream: opening it). If zero,
	// [DefaultTimeout].
	Timeout time.Duration `yaml:"timeout"`
	// Retries says which failed attempts are sent again, and how often.
	// If nil, the defaults of [retry.Config]: one retry of an attempt that
	// never reached the server or met a gateway error, within a retry
	// budget.
	Retries *retry.Config `yaml:"retries"`
	// CircuitBreaker, if not nil, gives every instance of the service a
	// breaker that takes it out of picking while it fails.
	CircuitBreaker *breaker.Config `yaml:"circuitBreaker"`
	// OutlierDetection, if not nil, ejects instances that return errors
	// in a row, for longer each time.
	OutlierDetection *outlier.Config `yaml:"outlierDetection"`
}

// Validate checks the balancer keys together; the other sections validate
// themselves.
func (c DestinationConfig) Validate() error { return c.balancer().Validate() }

func (c DestinationConfig) balancer() resilience.BalancerConfig {
	return resilience.BalancerConfig{Name: c.LoadBalancer, HashKey: c.HashKey, SlowStart: c.SlowStart, ZoneAware: c.ZoneAware}
}

// WithDefaults returns c with every default applied: the load balancer,
// the timeout and the retry policy (whose own zero fields take
// [retry.Config]'s defaults). The engine uses the result as it is.
func (c DestinationConfig) WithDefaults() DestinationConfig {
	if c.LoadBalancer == "" {
		c.LoadBalancer = DefaultLoadBalancer
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	r := retry.DefaultConfig()
	if c.Retries != nil {
		r = c.Retries.WithDefaults()
	}
	c.Retries = &r
	return c
}

// Routing is the client side of a policy, normalised: every destination's
// configuration with its defaults applied ([DestinationConfig.WithDefaults]).
type Routing struct {
	// Destinations holds the configuration of every service the policy
	// names.
	Destinations map[string]DestinationConfig
	// Default applies to services the policy does not name.
	Default DestinationConfig
	// Routes holds the subsets and routes of the services that have any.
	Routes map[string]route.Config
}

// destination returns the configuration of service.
func (r Routing) destination(service string) DestinationConfig {
	if c, ok := r.Destinations[service]; ok {
		return c
	}
	return r.Default
}
