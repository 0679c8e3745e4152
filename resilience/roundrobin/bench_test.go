package roundrobin_test

import (
	"fmt"
	"testing"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/roundrobin"
)

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{3, 100} {
		for _, state := range []string{"healthy", "half-down"} {
			eps := endpoints(n)
			if state == "half-down" {
				for i := 0; i < n; i += 2 {
					markDown(eps[i])
				}
			}
			p := roundrobin.New().Build(eps)
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
