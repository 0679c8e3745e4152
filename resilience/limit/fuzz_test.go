package limit

import (
	"strings"
	"testing"
	"time"
)

// FuzzConfig checks that any Config either fails Validate with keyed
// errors or builds a Limiter that admits and finishes requests without
// panicking and keeps its adaptive limit within bounds.
func FuzzConfig(f *testing.F) {
	f.Add(100.0, 20, 1000.0, 0, 256, "gradient", 20, 5, 1000, int64(time.Second), int64(time.Minute), int64(0))
	f.Add(0.5, 0, -1.0, -1, 0, "aimd", 0, 0, 0, int64(0), int64(0), int64(time.Millisecond))
	f.Add(-1.0, -5, 0.0, 3, -2, "vegas", -1, 50, 10, int64(-1), int64(-1), int64(-1))
	f.Fuzz(func(t *testing.T, callerRPS float64, callerBurst int, totalRPS float64, totalBurst, maxConc int,
		alg string, initial, minL, maxL int, window, probe, target int64) {
		cfg := Config{MaxConcurrent: maxConc}
		if callerRPS != 0 || totalRPS != 0 {
			cfg.RateLimit = &RateLimit{}
			if callerRPS != 0 {
				cfg.RateLimit.PerCaller = &Bucket{RPS: callerRPS, Burst: callerBurst}
			}
			if totalRPS > 0 || totalBurst != 0 {
				cfg.RateLimit.Total = &Bucket{RPS: totalRPS, Burst: totalBurst}
			}
		}
		if alg != "" || initial != 0 || minL != 0 || maxL != 0 {
			cfg.AdaptiveConcurrency = &AdaptiveConfig{Algorithm: alg, InitialLimit: initial, MinLimit: minL, MaxLimit: maxL,
				Window: time.Duration(window), ProbeInterval: time.Duration(probe), LatencyTarget: time.Duration(target)}
		}
		err := cfg.Validate()
		if err != nil {
			fes := problems(err)
			if len(fes) == 0 {
				t.Fatalf("Validate error without keyed problems: %v", err)
			}
			for _, fe := range fes {
				if fe.Key == "" || fe.Msg == "" || strings.Contains(fe.Key, " ") {
					t.Fatalf("malformed problem %#v", *fe)
				}
			}
			if _, nerr := New(cfg); nerr == nil {
				t.Fatal("New accepted a config Validate rejects")
			}
			return
		}
		clk := newFakeClock()
		l, err := New(cfg, WithClock(clk.Now))
		if err != nil {
			t.Fatalf("New rejected a valid config: %v", err)
		}
		for i := range 50 {
			tk, rej := l.Acquire(string(rune('a' + i%3)))
			if rej.Rejected() {
				if rej.RetryAfter < 0 || rej.StatusCode() < 429 {
					t.Fatalf("bad rejection %+v", rej)
				}
				continue
			}
			clk.Advance(time.Millisecond)
			tk.Done(time.Millisecond, i%7 == 0)
		}
		if a := cfg.AdaptiveConcurrency; a != nil {
			d := a.withDefaults()
			if got := l.Stats().AdaptiveLimit; got < int64(d.MinLimit) || got > int64(d.MaxLimit) {
				t.Fatalf("adaptive limit %d outside [%d, %d]", got, d.MinLimit, d.MaxLimit)
			}
		}
	})
}

// FuzzCallerTable feeds a sequence of caller names to a small caller
// table and checks its bound and its recency list after every step.
func FuzzCallerTable(f *testing.F) {
	f.Add("a,b,c,a,d,e,f,a")
	f.Add(strings.Repeat("x,", 100))
	f.Add("")
	f.Fuzz(func(t *testing.T, seq string) {
		c := newCallers(2 * callerShards)
		b := &Bucket{RPS: 1}
		now := time.Now()
		for _, name := range strings.Split(seq, ",") {
			l1 := c.bucket(name, b, 1, now)
			if l2 := c.bucket(name, b, 1, now); l1 != l2 {
				t.Fatalf("caller %q got a new bucket on a second look", name)
			}
			for i := range c.shards {
				s := &c.shards[i]
				if len(s.entries) > s.max {
					t.Fatalf("shard %d holds %d > %d", i, len(s.entries), s.max)
				}
				n := 0
				var prev *callerEntry
				for e := s.head; e != nil; e = e.next {
					if e.prev != prev || s.entries[e.key] != e {
						t.Fatalf("shard %d: list and map disagree at %q", i, e.key)
					}
					prev = e
					n++
				}
				if n != len(s.entries) || s.tail != prev {
					t.Fatalf("shard %d: list has %d entries, map %d", i, n, len(s.entries))
				}
			}
		}
	})
}
