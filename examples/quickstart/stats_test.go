package main

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  func(r *rand.Rand) time.Duration
	}{
		{"uniform ms", func(r *rand.Rand) time.Duration {
			return time.Millisecond + time.Duration(r.Int64N(int64(9*time.Millisecond)))
		}},
		{"sub-16µs exact", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(16)) * time.Microsecond }},
		{"long tail", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * float64(20*time.Millisecond)) }},
		{"seconds", func(r *rand.Rand) time.Duration { return time.Second + time.Duration(r.Int64N(int64(50*time.Second))) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var h histogram
			var all []time.Duration
			for range 5000 {
				d := tc.gen(r)
				h.record(d)
				all = append(all, d)
			}
			slices.Sort(all)
			for _, q := range []float64{0.5, 0.9, 0.99} {
				exact := all[int(q*float64(len(all)))-1]
				got := h.quantile(q)
				// Within the bucket's relative width, and within 1 µs
				// where buckets are exact.
				if diff := (got - exact).Abs(); diff > exact/16+time.Microsecond {
					t.Errorf("q%.2f = %v, exact %v", q, got, exact)
				}
			}
		})
	}
}

func TestHistogramEmptyAndAdd(t *testing.T) {
	var a, b histogram
	if got := a.quantile(0.5); got != 0 {
		t.Errorf("empty quantile = %v, want 0", got)
	}
	a.record(time.Millisecond)
	b.record(100 * time.Millisecond)
	b.record(100 * time.Millisecond)
	a.add(&b)
	if a.n != 3 {
		t.Fatalf("n = %d after add, want 3", a.n)
	}
	if got := a.quantile(0.5); got < 90*time.Millisecond || got > 110*time.Millisecond {
		t.Errorf("median = %v, want about 100ms", got)
	}
	if got := a.quantile(0); got > 2*time.Millisecond {
		t.Errorf("q0 = %v, want about 1ms", got)
	}
}

// FuzzBucket checks that every duration falls in the range of its bucket
// and that buckets are ordered.
func FuzzBucket(f *testing.F) {
	for _, v := range []uint64{0, 1, 15, 16, 17, 31, 32, 1000, 1 << 39, 1<<40 - 1} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, us uint64) {
		us %= 1 << histMaxBits
		i := bucketOf(us)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of [0, %d)", us, i, histBuckets)
		}
		lo, hi := bucketRange(i)
		if us < lo || us >= hi {
			t.Fatalf("bucketOf(%d) = %d with range [%d, %d)", us, i, lo, hi)
		}
		if i+1 < histBuckets {
			if next, _ := bucketRange(i + 1); next != hi {
				t.Fatalf("bucket %d ends at %d but bucket %d starts at %d", i, hi, i+1, next)
			}
		}
	})
}

func TestMeasure(t *testing.T) {
	var stats requestStats
	h := measure(&stats, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fail":
			http.Error(w, "no", http.StatusBadGateway)
		case "/missing":
			http.NotFound(w, r)
		case "/flush":
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("flush through the wrapper: %v", err)
			}
		}
		// "/" writes nothing: an implicit 200.
	}))
	for _, path := range []string{"/", "/fail", "/missing", "/flush"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	s := stats.snapshot()
	if s.Total != 4 || s.OK != 3 || s.Recent != 4 {
		t.Errorf("total %d, ok %d, recent %d; want 4, 3 (a 404 is not a server failure), 4", s.Total, s.OK, s.Recent)
	}
	if s = stats.snapshot(); s.Recent != 0 || s.Total != 4 {
		t.Errorf("second snapshot: recent %d, total %d; want 0, 4", s.Recent, s.Total)
	}
}
