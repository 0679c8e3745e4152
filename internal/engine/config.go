package engine

import (
	"errors"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
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
	// DefaultProtocol is the HTTP protocol HTTP calls use when nothing
	// says otherwise.
	DefaultProtocol = HTTP1
)

// The HTTP protocols a destination's HTTP calls may use
// ([DestinationConfig] Protocol), named as in ALPN.
const (
	// HTTP1 is HTTP/1.1: one request at a time on each connection.
	HTTP1 = "http/1.1"
	// HTTP2 is HTTP/2: requests multiplexed on one connection per
	// endpoint, negotiated by ALPN over mutual TLS and spoken with prior
	// knowledge (h2c) over plaintext connections.
	HTTP2 = "h2"
)

// DestinationConfig is how clients call one destination service, whatever
// the protocol. The policy file's `defaults` section and each
// `services.<name>` section decode into it; fields a service leaves empty
// take the defaults section's value, then the default stated on the field.
type DestinationConfig struct {
	// LoadBalancer names the balancer, one registered with
	// [resilience.Register] ([Builtin] lists those the engine offers). If
	// empty, [DefaultLoadBalancer].
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
	// Protocol is the HTTP protocol of HTTP calls to the service: [HTTP1]
	// or [HTTP2]. Requests that upgrade their connection (WebSocket) use
	// HTTP/1.1 whatever it says; gRPC always uses HTTP/2. If empty,
	// [DefaultProtocol].
	Protocol string `yaml:"protocol"`
}

// Validate checks the balancer keys together and the protocol; the other
// sections validate themselves.
func (c DestinationConfig) Validate() error {
	var es fielderr.List
	switch c.Protocol {
	case "", HTTP1, HTTP2:
	case "h2c":
		es.Add("protocol", "write h2: HTTP/2 is h2c (prior knowledge) on plaintext connections and negotiated by ALPN over mutual TLS")
	default:
		es.Add("protocol", "unknown protocol %q; use %s or %s", c.Protocol, HTTP1, HTTP2)
	}
	return errors.Join(c.balancer().Validate(), es.Err())
}

func (c DestinationConfig) balancer() resilience.BalancerConfig {
	return resilience.BalancerConfig{Name: c.LoadBalancer, HashKey: c.HashKey, SlowStart: c.SlowStart, ZoneAware: c.ZoneAware}
}

// WithDefaults returns c with every default applied: the load balancer,
// the timeout, the protocol, the retry policy and, when set, the breakers
// and outlier detection, whose own zero fields take the defaults of
// [retry.Config], [breaker.Config] and [outlier.Config]. It copies what it
// fills, never changing what c points to. The engine uses the result as
// it is.
func (c DestinationConfig) WithDefaults() DestinationConfig {
	if c.LoadBalancer == "" {
		c.LoadBalancer = DefaultLoadBalancer
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Protocol == "" {
		c.Protocol = DefaultProtocol
	}
	r := retry.DefaultConfig()
	if c.Retries != nil {
		r = c.Retries.WithDefaults()
	}
	c.Retries = &r
	if c.CircuitBreaker != nil {
		b := c.CircuitBreaker.WithDefaults()
		c.CircuitBreaker = &b
	}
	if c.OutlierDetection != nil {
		o := c.OutlierDetection.WithDefaults()
		c.OutlierDetection = &o
	}
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
