package zoneaware_test

import (
	"fmt"
	"testing"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/internal/pickertest"
	"github.com/weftmesh/weft/resilience/leastrequest"
	"github.com/weftmesh/weft/resilience/zoneaware"
)

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{3, 100} {
		for _, state := range []string{"local", "spill"} {
			eps := pickertest.Endpoints(n)
			for i, e := range eps {
				e.Zone = []string{"a", "b", "c"}[i%3]
				if state == "spill" && i%3 == 0 {
					pickertest.MarkDown(e)
				}
			}
			p := zoneaware.New(leastrequest.New(), "a", 0.5).Build(eps)
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
