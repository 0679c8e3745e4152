package ringhash

// Key returns the ring key of s, such as a header or cookie value, for
// [resilience.PickInfo] Hash. It is 64-bit FNV-1a followed by a
// MurmurHash3-style finaliser, which spreads similar strings over the
// whole ring. Key is safe for concurrent use and does not allocate.
func Key(s string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := range len(s) {
		h ^= uint64(s[i])
		h *= prime
	}
	return mix(h)
}

// mix is the 64-bit finaliser of MurmurHash3: a bijection in which every
// input bit affects every output bit.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// golden is 2⁶⁴ divided by the golden ratio, the SplitMix64 increment.
const golden = 0x9e3779b97f4a7c15

// point returns the hash of the i-th virtual node of an endpoint whose
// address hashes to base: the SplitMix64 sequence seeded with base.
func point(base uint64, i int) uint64 {
	return mix(base + uint64(i+1)*golden)
}
