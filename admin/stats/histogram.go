package stats

import "math"

// Latency histograms share one set of bucket bounds on every node, so that
// they merge by adding counts. Bound i is the upper limit, in
// microseconds, of bucket i: 100 µs times √2 to the power i, up to about
// 70 s; bucket NumBuckets-1 holds everything slower.
const (
	firstBoundMicros = 100
	// NumBuckets is the number of buckets of a [Histogram].
	NumBuckets = 40
)

// bounds are the buckets' upper limits in microseconds.
var bounds = func() [NumBuckets - 1]float64 {
	var b [NumBuckets - 1]float64
	for i := range b {
		b[i] = firstBoundMicros * math.Pow(math.Sqrt2, float64(i))
	}
	return b
}()

// bucketOf returns the bucket of a latency in microseconds.
func bucketOf(micros int64) int {
	if micros <= firstBoundMicros {
		return 0
	}
	// Two buckets per doubling: i = ceil(2·log2(micros/first)).
	i := int(math.Ceil(2 * math.Log2(float64(micros)/firstBoundMicros)))
	// Rounding may put a value on a bound into the next bucket.
	if i > 0 && i <= len(bounds) && float64(micros) <= bounds[i-1] {
		i--
	}
	return min(i, NumBuckets-1)
}

// Histogram counts latencies in the shared buckets.
type Histogram [NumBuckets]uint64

// Add merges o's counts into h.
func (h *Histogram) Add(o *Histogram) {
	for i, c := range o {
		h[i] += c
	}
}

// Count returns the number of latencies counted.
func (h *Histogram) Count() uint64 {
	var n uint64
	for _, c := range h {
		n += c
	}
	return n
}

// Quantile returns the latency in milliseconds below which a share q (0 to
// 1) of the counted latencies fall, interpolated linearly within the
// bucket that holds it; 0 for an empty histogram. Its error is at most the
// width of that bucket, about 41% of its lower bound.
func (h *Histogram) Quantile(q float64) float64 {
	total := h.Count()
	if total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := q * float64(total)
	var seen float64
	for i, c := range h {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo, hi := 0.0, 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			if i < len(bounds) {
				hi = bounds[i]
			} else {
				hi = lo * math.Sqrt2 // the open last bucket: assume one more step
			}
			frac := (rank - seen) / float64(c)
			return (lo + frac*(hi-lo)) / 1000
		}
		seen += float64(c)
	}
	return bounds[len(bounds)-1] / 1000
}
