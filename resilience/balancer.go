package resilience

import (
	"math"
	"strings"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
)

// BalancerConfig is the `loadBalancer` family of keys of a destination: the
// balancer's name and the options that refine it. Its fields are meant to
// sit inline among a destination's keys (`yaml:",inline"`).
//
// The zero value is the default: the client's default balancer, no slow
// start, no zone preference.
type BalancerConfig struct {
	// Name selects the balancer: one registered with [Register]
	// (round_robin, least_request, peak_ewma, ring_hash, random). If
	// empty, the client's default.
	Name string `yaml:"loadBalancer"`
	// HashKey says which part of a request a [Hashing] balancer hashes.
	// It must be set with such a balancer and only with one.
	HashKey HashKey `yaml:"hashKey"`
	// SlowStart ramps up the traffic of newly ready endpoints. If zero,
	// off.
	SlowStart SlowStart `yaml:"slowStart"`
	// ZoneAware keeps traffic in the caller's zone while that zone is
	// healthy enough. If zero, off.
	ZoneAware ZoneAware `yaml:"zoneAware"`
}

// HashKey names the request header or cookie whose value ring_hash hashes,
// so that requests with equal values go to the same endpoint. Exactly one
// of Header and Cookie is set; a request that lacks it is balanced at
// random.
type HashKey struct {
	// Header is the name of a request header, such as x-user-id.
	Header string `yaml:"header"`
	// Cookie is the name of a request cookie, such as session.
	Cookie string `yaml:"cookie"`
}

// SlowStart configures the ramp-up of new endpoints; see [BuildOptions]
// SlowStart.
type SlowStart struct {
	// Window is how long a newly ready endpoint's weight takes to ramp from
	// 10% to 100%. If zero, slow start is off. At most [MaxSlowStart].
	Window time.Duration `yaml:"window"`
}

// ZoneAware configures the preference for endpoints in the caller's zone.
type ZoneAware struct {
	// Enabled turns the preference on. If false, endpoints are balanced
	// regardless of zone.
	Enabled bool `yaml:"enabled"`
	// MinHealthy is the fraction, between 0 and 1, of the local zone's
	// endpoints that must be usable (not marked down) for traffic to stay
	// in the zone; below it, traffic spreads over every zone. If zero,
	// [DefaultMinHealthy].
	MinHealthy float64 `yaml:"minHealthy"`
}

// DefaultMinHealthy is the [ZoneAware] MinHealthy used when it is zero:
// traffic leaves the local zone once half of its endpoints are down, before
// the survivors are overloaded by the whole zone's share.
const DefaultMinHealthy = 0.5

// MaxSlowStart bounds [SlowStart] Window: an endpoint that needs longer
// than this to warm up is better kept out of the catalog until ready.
const MaxSlowStart = time.Hour

// Validate checks every field of c, zero fields standing for their
// defaults, and returns nil or an error listing every problem, one per
// line, in the order of the struct's fields. Its Unwrap() []error method
// returns the problems one by one, each printed as
// "resilience: <key>: <problem>" with the key as written in the policy,
// relative to the destination (`loadBalancer`, `slowStart.window`).
func (c BalancerConfig) Validate() error {
	var es fielderr.List
	var hashing bool
	if c.Name != "" {
		b, ok := Lookup(c.Name)
		if !ok {
			es.Add("loadBalancer", "unknown balancer %q; use one of %s", c.Name, strings.Join(Names(), ", "))
		}
		_, hashing = b.(Hashing)
	}

	h := c.HashKey
	switch {
	case !hashing && (h.Header != "" || h.Cookie != ""):
		if names := hashingNames(); len(names) > 0 {
			es.Add("hashKey", "only %s uses a hash key; remove it or set loadBalancer: %s", strings.Join(names, " or "), names[0])
		} else {
			es.Add("hashKey", "no balancer uses a hash key; remove it")
		}
	case hashing && h.Header == "" && h.Cookie == "":
		es.Add("hashKey", "%s needs a key; set hashKey.header or hashKey.cookie", c.Name)
	case h.Header != "" && h.Cookie != "":
		es.Add("hashKey", "set hashKey.header or hashKey.cookie, not both")
	}
	if h.Header != "" && !isToken(h.Header) {
		es.Add("hashKey.header", "%q is not a valid header name", h.Header)
	}
	if h.Cookie != "" && !isToken(h.Cookie) {
		es.Add("hashKey.cookie", "%q is not a valid cookie name", h.Cookie)
	}

	if w := c.SlowStart.Window; w < 0 || w > MaxSlowStart {
		es.Add("slowStart.window", "must be between 0s and %v, got %v", MaxSlowStart, w)
	}

	if m := c.ZoneAware.MinHealthy; math.IsNaN(m) || m < 0 || m > 1 {
		es.Add("zoneAware.minHealthy", "must be between 0 and 1, got %v", m)
	}
	return es.From("resilience").Err()
}

// isToken reports whether s is an RFC 9110 token, the syntax of header and
// cookie names.
func isToken(s string) bool {
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c < 0x80 && c > ' ' && c != 0x7f && !isSeparator(c):
		default:
			return false
		}
	}
	return s != ""
}

// isSeparator reports whether c is one of the delimiters RFC 9110 excludes
// from tokens.
func isSeparator(c byte) bool {
	switch c {
	case '(', ')', ',', '/', ':', ';', '<', '=', '>', '?', '@', '[', '\\', ']', '{', '}', '"':
		return true
	}
	return false
}

// hashingNames returns the names of the registered [Hashing] balancers.
func hashingNames() []string {
	var out []string
	for _, n := range Names() {
		if b, _ := Lookup(n); b != nil {
			if _, ok := b.(Hashing); ok {
				out = append(out, n)
			}
		}
	}
	return out
}
