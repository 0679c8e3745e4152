// Package ringhash is the consistent-hashing [resilience.Builder]: its
// pickers send requests with equal keys ([resilience.PickInfo] Hash) to the
// same endpoint, and when the endpoint set changes, only the keys of the
// endpoints that came or went move.
//
// Each endpoint owns [VirtualNodes] points per unit of
// [resilience.Endpoint.Weight] on a ring of 64-bit hashes, placed by
// hashing its address; a key belongs to the first point at or after it.
// The ring is built once per endpoint set, and a pick is a binary search
// that does not allocate. Requests without a key (HasHash false) go to a
// random point, which is weighted random balancing.
//
// When a key's endpoint is marked down ([resilience.Endpoint.MarkDown]) or
// is [resilience.PickInfo] Avoid, the pick walks on along the ring to the
// next usable endpoint, so the key's traffic spreads the way it would if
// the endpoint had left. Local health marks never fail a request on their
// own: when no endpoint is usable, a picker still returns one.
//
// With [resilience.BuildOptions] SlowStart, an endpoint that is ramping up
// keeps only a share of its keys equal to its slow-start factor relative to
// the fullest one; the choice is a hash of the key, so a key stays put while
// the share grows and the endpoint's keys arrive gradually.
//
// Compute keys with [Key].
package ringhash
