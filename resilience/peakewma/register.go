package peakewma

import "github.com/weftmesh/weft/resilience"

// Balancer is this package's [resilience.Balancer], registered under
// [Name].
type Balancer struct{}

// Name returns [Name].
func (Balancer) Name() string { return Name }

// New returns the package's builder with opts.
func (Balancer) New(opts resilience.BuildOptions) resilience.Builder { return New(opts) }
