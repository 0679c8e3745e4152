package ringhash

import "github.com/weftmesh/weft/resilience"

// Balancer is this package's [resilience.Balancer], registered under
// [Name]. It is a [resilience.Hashing] balancer: requests with equal keys
// go to the same endpoint.
type Balancer struct{}

// Name returns [Name].
func (Balancer) Name() string { return Name }

// New returns the package's builder with opts.
func (Balancer) New(opts resilience.BuildOptions) resilience.Builder { return New(opts) }

// HashesRequests marks the [resilience.Hashing] capability.
func (Balancer) HashesRequests() {}
