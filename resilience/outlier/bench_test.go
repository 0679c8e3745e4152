package outlier

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkObserve(b *testing.B) {
	d, _, keys := newDetector(b, Config{}, 100)
	k := keys[50]
	b.Run("success/serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d.Observe(k, Success)
		}
	})
	b.Run("success/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d.Observe(k, Success)
			}
		})
	})
	// Errors that never reach the threshold: the counting path.
	b.Run("error-success", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d.Observe(k, ServerError)
			d.Observe(k, Success)
		}
	})
}

// BenchmarkEjected is the hot-path check a picker makes, on the wall
// clock.
func BenchmarkEjected(b *testing.B) {
	d, err := New(Config{ConsecutiveErrors: 1, EjectFor: time.Hour}, nil)
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("127.0.0.1:%d", 9001+i)
	}
	d.SetEndpoints(keys)
	fail(d, keys[0], 1)
	for _, c := range []struct {
		name string
		key  string
		want bool
	}{{"healthy", keys[50], false}, {"ejected", keys[0], true}} {
		b.Run(fmt.Sprintf("%s/serial", c.name), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d.Ejected(c.key) != c.want {
					b.Fatal("wrong answer")
				}
			}
		})
		b.Run(fmt.Sprintf("%s/parallel", c.name), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if d.Ejected(c.key) != c.want {
						b.Error("wrong answer")
						return
					}
				}
			})
		})
	}
}
