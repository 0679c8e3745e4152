package peakewma_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/internal/pickertest"
	"github.com/weftmesh/weft/resilience/peakewma"
)

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{3, 100} {
		for _, state := range []string{"healthy", "half-down", "ramping"} {
			eps := pickertest.Endpoints(n)
			now := time.Now()
			for i, e := range eps {
				e.ObserveAt(now, time.Duration(1+i%7)*time.Millisecond, false)
				for range i % 5 {
					e.Begin()
				}
				switch state {
				case "half-down":
					if i%2 == 0 {
						pickertest.MarkDown(e)
					}
				case "ramping":
					e.ReadySince = now
				}
			}
			p := peakewma.New(resilience.BuildOptions{SlowStart: time.Hour}).Build(eps)
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
