package limit

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

var benchConfigs = []struct {
	name string
	cfg  Config
}{
	{"none", Config{}},
	{"maxConcurrent", Config{MaxConcurrent: 1 << 20}},
	{"perCaller+total", Config{RateLimit: &RateLimit{PerCaller: &Bucket{RPS: 1e9}, Total: &Bucket{RPS: 1e9}}}},
	{"adaptive", Config{AdaptiveConcurrency: &AdaptiveConfig{Algorithm: AIMD, InitialLimit: 1 << 20, MaxLimit: 1 << 20}}},
	{"all", Config{
		RateLimit:           &RateLimit{PerCaller: &Bucket{RPS: 1e9}, Total: &Bucket{RPS: 1e9}},
		MaxConcurrent:       1 << 20,
		AdaptiveConcurrency: &AdaptiveConfig{InitialLimit: 1 << 20, MaxLimit: 1 << 20},
	}},
}

// callerNames are the identities benchmarks rotate through, all
// remembered by the table.
var callerNames = func() []string {
	s := make([]string, 64)
	for i := range s {
		s[i] = "caller-" + strconv.Itoa(i)
	}
	return s
}()

func BenchmarkAcquireDone(b *testing.B) {
	for _, bc := range benchConfigs {
		l := mustNew(b, bc.cfg)
		if a := l.snap.Load().adaptive; a != nil {
			admit(l, "", probeSamples) // finish the start-up probe
		}
		b.Run(bc.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				t, rej := l.Acquire(callerNames[i&63])
				if rej.Rejected() {
					b.Fatalf("rejected: %+v", rej)
				}
				t.Done(time.Millisecond, false)
				i++
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					t, rej := l.Acquire(callerNames[i&63])
					if rej.Rejected() {
						b.Errorf("rejected: %+v", rej)
						return
					}
					t.Done(time.Millisecond, false)
					i++
				}
			})
		})
	}
}

func BenchmarkAcquireRejected(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"callerRate", Config{RateLimit: &RateLimit{PerCaller: &Bucket{RPS: 1e-3, Burst: 1}}}},
		{"totalRate", Config{RateLimit: &RateLimit{Total: &Bucket{RPS: 1e-3, Burst: 1}}}},
		{"maxConcurrent", Config{MaxConcurrent: 1}},
	} {
		l := mustNew(b, bc.cfg)
		for _, c := range callerNames {
			l.Acquire(c) // empty every bucket; hold the one slot
		}
		b.Run(bc.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, rej := l.Acquire(callerNames[i&63]); !rej.Rejected() {
					b.Fatal("admitted")
				}
				i++
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, rej := l.Acquire(callerNames[i&63]); !rej.Rejected() {
						b.Error("admitted")
						return
					}
					i++
				}
			})
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so that the
// middleware's own allocations are measured.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

func BenchmarkWrap(b *testing.B) {
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	caller := func(*http.Request) string { return "caller" }
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"accepted", Config{RateLimit: &RateLimit{PerCaller: &Bucket{RPS: 1e9}}, MaxConcurrent: 1 << 20}},
		{"rejected", Config{RateLimit: &RateLimit{PerCaller: &Bucket{RPS: 1, Burst: 1}}}},
	} {
		// A frozen clock keeps the rejected case rejected (Retry-After: 1).
		frozen := time.Now()
		l := mustNew(b, bc.cfg, WithClock(func() time.Time { return frozen }))
		h := l.Wrap(ok, caller)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		w := &discardWriter{h: make(http.Header)}
		h.ServeHTTP(w, r)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}
