package ringhash_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/internal/pickertest"
	"github.com/weftmesh/weft/resilience/ringhash"
)

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{3, 100} {
		for _, state := range []string{"healthy", "half-down", "ramping"} {
			eps := pickertest.Endpoints(n)
			for i, e := range eps {
				switch state {
				case "half-down":
					if i%2 == 0 {
						pickertest.MarkDown(e)
					}
				case "ramping":
					e.ReadySince = time.Now()
				}
			}
			p := ringhash.New(resilience.BuildOptions{SlowStart: time.Hour}).Build(eps)
			info := resilience.PickInfo{HasHash: true}
			b.Run(fmt.Sprintf("n=%d/%s/serial", n, state), func(b *testing.B) {
				b.ReportAllocs()
				var k uint64
				for b.Loop() {
					k += 0x9e3779b97f4a7c15
					info.Hash = k
					if _, err := p.Pick(info); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("n=%d/%s/parallel", n, state), func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					info := info
					var k uint64
					for pb.Next() {
						k += 0x9e3779b97f4a7c15
						info.Hash = k
						if _, err := p.Pick(info); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

func BenchmarkKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = ringhash.Key("7f3c2a9e-session-0042")
	}
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{3, 100} {
		eps := pickertest.Endpoints(n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ringhash.New().Build(eps)
			}
		})
	}
}
