package discovery

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkConvergence measures how long a fleet of real members in one
// process, on loopback, with LAN timing, takes to reach a full view
// (every member's view holds every member's entry, and every member
// counts all others live) after its last member started. Each iteration
// starts a fresh fleet. Metrics are per fleet, medians over the
// iterations for the seconds, totals per fleet (averaged) for the
// counts:
//
//   - s-to-full-view: from the last Start returning to the full view
//   - failed-joins: Start calls that returned an error
//   - dropped-pkts: inbound packets and streams memberlist threw away
//   - suspicions: probes that failed and made a member suspect another
//   - false-deaths: members declared dead although all were running
func BenchmarkConvergence(b *testing.B) {
	cases := []struct {
		name  string
		seeds int
		run   func(f *fleet, ctx context.Context)
	}{
		{"N=128", 1, func(f *fleet, ctx context.Context) { f.grow(ctx, 127) }},
		{"N=256", 1, func(f *fleet, ctx context.Context) { f.grow(ctx, 255) }},
		{"storm=127/seeds=1", 1, func(f *fleet, ctx context.Context) { f.storm(ctx, 127) }},
		{"storm=127/seeds=3", 3, func(f *fleet, ctx context.Context) { f.storm(ctx, 127) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var secs []float64
			var failed, dropped, suspicions, deaths, repairs float64
			for b.Loop() {
				f := newFleet(b, DefaultLANTiming(), c.seeds)
				c.run(f, b.Context())
				last := time.Now()
				at, ok := f.waitFullView(60 * time.Second)
				if !ok {
					b.Logf("no full view after 60s: %s", f.laggards())
					secs = append(secs, 60)
				} else {
					secs = append(secs, at.Sub(last).Seconds())
				}
				failed += float64(f.failed)
				dropped += float64(f.dropped())
				suspicions += float64(f.events.suspicions.Load())
				deaths += float64(f.events.deaths.Load())
				repairs += float64(f.repairs())
				b.Logf("%d members: full view %.2fs after the last start; %d failed joins, %d dropped, %d suspicions, %d false deaths, %d repairs",
					len(f.members), secs[len(secs)-1], f.failed, f.dropped(), f.events.suspicions.Load(), f.events.deaths.Load(), f.repairs())
				f.close()
			}
			n := float64(len(secs))
			slices.Sort(secs)
			b.ReportMetric(secs[len(secs)/2], "s-to-full-view")
			b.ReportMetric(failed/n, "failed-joins")
			b.ReportMetric(dropped/n, "dropped-pkts")
			b.ReportMetric(suspicions/n, "suspicions")
			b.ReportMetric(deaths/n, "false-deaths")
			b.ReportMetric(repairs/n, "repairs")
		})
	}
}
