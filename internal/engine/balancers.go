package engine

import (
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/leastrequest"
	"github.com/weftmesh/weft/resilience/peakewma"
	"github.com/weftmesh/weft/resilience/random"
	"github.com/weftmesh/weft/resilience/ringhash"
	"github.com/weftmesh/weft/resilience/roundrobin"
)

// Builtin lists the balancers the engine offers, in the order the policy
// documents them; they are registered with [resilience.Register] when the
// engine loads, so that the policy accepts exactly their names.
var Builtin = []resilience.Balancer{
	roundrobin.Balancer{},
	leastrequest.Balancer{},
	peakewma.Balancer{},
	ringhash.Balancer{},
	random.Balancer{},
}

func init() {
	for _, b := range Builtin {
		resilience.Register(b)
	}
}
