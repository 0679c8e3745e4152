package leastrequest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/internal/pickertest"
	"github.com/weftmesh/weft/resilience/leastrequest"
)

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{3, 100} {
		for _, state := range []string{"healthy", "half-down", "ramping"} {
			eps := pickertest.Endpoints(n)
			for i, e := range eps {
				for range i % 5 {
					e.Begin()
				}
			}
			if state == "half-down" {
				for i := 0; i < n; i += 2 {
					pickertest.MarkDown(eps[i])
				}
			}
			if state == "ramping" {
				for _, e := range eps {
					e.ReadySince = time.Now()
				}
			}
			p := leastrequest.New(resilience.BuildOptions{SlowStart: time.Hour}).Build(eps)
			b.Run(fmt.Sprintf("n=%d/%s/serial", n, state), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.Pick(resilience.PickInfo{}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("n=%d/%s/parallel", n, state), func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := p.Pick(resilience.PickInfo{}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
