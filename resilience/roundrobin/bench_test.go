package roundrobin_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/internal/pickertest"
	"github.com/weftmesh/weft/resilience/roundrobin"
)

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{3, 100} {
		for _, state := range []string{"healthy", "half-down", "weighted", "weighted-half-down", "ramping"} {
			eps := pickertest.Endpoints(n)
			for i, e := range eps {
				switch state {
				case "half-down", "weighted-half-down":
					if i%2 == 0 {
						pickertest.MarkDown(e)
					}
				case "ramping":
					e.ReadySince = time.Now()
				}
				if state == "weighted" || state == "weighted-half-down" {
					e.Weight = uint32(1 + i%4)
				}
			}
			p := roundrobin.New(resilience.BuildOptions{SlowStart: time.Hour}).Build(eps)
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
