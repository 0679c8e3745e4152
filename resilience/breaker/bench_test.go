package breaker

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkAllowDone(b *testing.B) {
	s, err := New(Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			done, err := s.Allow(key)
			if err != nil {
				b.Fatal(err)
			}
			done(true)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				done, err := s.Allow(key)
				if err != nil {
					b.Error(err)
					return
				}
				done(true)
			}
		})
	})
}

func BenchmarkAllowRefused(b *testing.B) {
	s, err := New(Config{ConsecutiveFailures: 1, OpenFor: time.Hour}, nil)
	if err != nil {
		b.Fatal(err)
	}
	call(b, s, key, false)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Allow(key); err == nil {
			b.Fatal("open breaker let a request through")
		}
	}
}

// BenchmarkOpen is the hot-path check a picker makes, over a Set of 100
// endpoints, on the wall clock.
func BenchmarkOpen(b *testing.B) {
	s, err := New(Config{ConsecutiveFailures: 1, OpenFor: time.Hour}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		s.Allow(fmt.Sprintf("127.0.0.1:%d", 9000+i))
	}
	call(b, s, key, false)
	closed := "127.0.0.1:9050"
	for _, c := range []struct {
		name string
		key  string
		want bool
	}{{"closed", closed, false}, {"open", key, true}} {
		b.Run(c.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s.Open(c.key) != c.want {
					b.Fatal("wrong state")
				}
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if s.Open(c.key) != c.want {
						b.Error("wrong state")
						return
					}
				}
			})
		})
	}
}
