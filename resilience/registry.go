package resilience

import (
	"slices"
	"sync"
)

// Balancer is a load-balancing algorithm the policy can name. Each
// balancer package defines one; the program registers those it offers
// with [Register] (Weft's client engine registers the built-in ones when
// it loads), and clients and the policy look them up by name.
//
// Optional capabilities are further interfaces a Balancer implements:
// [Hashing] for balancers that keep requests with equal keys together.
// Clients and the policy's validation find them by type assertion, never
// by name.
type Balancer interface {
	// Name is the value of the policy's loadBalancer key that selects the
	// balancer, such as "least_request".
	Name() string
	// New returns the balancer's [Builder], configured by opts. It is
	// called when a policy is installed, not per request.
	New(opts BuildOptions) Builder
}

// Hashing is implemented by a [Balancer] that sends requests with equal
// hash keys to the same endpoint ([PickInfo] Hash). The policy requires a
// hashKey for such balancers and refuses one for the others, and clients
// compute a request's key only for them.
type Hashing interface {
	Balancer
	// HashesRequests marks the capability; it does nothing.
	HashesRequests()
}

var registry struct {
	sync.RWMutex
	byName map[string]Balancer
	order  []string // names in the order first registered
}

// Register makes b available under b.Name(). It is meant to be called
// from an init function; a later registration under the same name
// replaces the earlier one and keeps its place in [Names].
func Register(b Balancer) {
	registry.Lock()
	defer registry.Unlock()
	if registry.byName == nil {
		registry.byName = make(map[string]Balancer)
	}
	if _, ok := registry.byName[b.Name()]; !ok {
		registry.order = append(registry.order, b.Name())
	}
	registry.byName[b.Name()] = b
}

// Lookup returns the balancer registered under name.
func Lookup(name string) (Balancer, bool) {
	registry.RLock()
	defer registry.RUnlock()
	b, ok := registry.byName[name]
	return b, ok
}

// Names returns the names of the registered balancers, in the order they
// were first registered.
func Names() []string {
	registry.RLock()
	defer registry.RUnlock()
	return slices.Clone(registry.order)
}
