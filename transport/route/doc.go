// Package route decides, for one destination service, which group of its
// endpoints a request goes to: the service's subsets (named groups selected
// by endpoint version and labels) and its ordered routes (match a request
// by path, method, headers and the claims of the end user it is made for;
// split it across subsets by weight; inject
// delays and aborts; mirror a share of the traffic to another subset).
//
// The policy file decodes a service's `subsets:` and `routes:` keys into
// [Config]; [Compile] turns them into a [Table], an immutable value built
// once per policy version and shared by every request. The client transport
// uses it in four steps, none of which blocks, locks or allocates:
//
//	rt := table.Match(req)           // first route that fits, or nil
//	subset := rt.PickSubset(rnd)     // "" means every endpoint
//	delay, abort := rt.Fault(rand)   // injected faults, if any
//	mirrorTo := rt.MirrorSubset(rand) // "" means do not mirror
//
// A nil *Table and a nil *CompiledRoute are valid and mean "no routing":
// every endpoint of the service, no fault, no mirror. [Partition] splits an
// endpoint set into subsets with [Subset.Selects], once per catalog or
// policy change, so that a balancer can be built per subset.
//
// The package imports nothing of the mesh's but the claims type
// ([github.com/weftmesh/weft/security/claims]) and holds no state beyond
// the tables it returns; time and randomness come from the caller.
package route
