package outlier

import (
	"testing"
	"time"
)

// FuzzDetector drives a Detector with a sequence of outcomes and clock
// steps and checks its invariants after every step: the cap on ejected
// endpoints holds, every ejection lasts a whole number of EjectFor up to
// MaxEjectFor, and an endpoint is ejected only by the error that completes
// a run of ConsecutiveErrors.
func FuzzDetector(f *testing.F) {
	f.Add(uint8(4), uint8(2), uint8(50), []byte{1, 1, 5, 5, 9, 9, 13, 13, 0xF5, 1, 1})
	f.Add(uint8(1), uint8(1), uint8(100), []byte{1, 2, 3, 0xFF, 1})
	f.Add(uint8(3), uint8(3), uint8(0), []byte{1, 1, 1, 0xFA, 0xFA, 0xFA, 1, 1, 1, 0xFF, 1, 1, 1})
	f.Fuzz(func(t *testing.T, endpoints, threshold, percent uint8, ops []byte) {
		if len(ops) > 1000 {
			ops = ops[:1000]
		}
		cfg := Config{
			ConsecutiveErrors: int(threshold%5) + 1,
			EjectFor:          10 * time.Second,
			MaxEjectedPercent: int(percent % 101),
			MaxEjectFor:       45 * time.Second,
		}
		n := int(endpoints%8) + 1
		d, clock, keys := newDetector(t, cfg, n)
		cfg = d.Config()
		marks := make([]*recorder, n)
		for i, k := range keys {
			marks[i] = &recorder{}
			d.Attach(k, marks[i])
		}
		run := make([]int, n) // errors in a row, as the model counts them
		limit := min(n*cfg.MaxEjectedPercent/100, n-1)
		for i, op := range ops {
			if op >= 0xF0 {
				clock.Advance(time.Duration(op&0xF) * 5 * time.Second)
				continue
			}
			k := int(op>>2) % n
			outcome := Outcome(op & 3)
			wasEjected := d.Ejected(keys[k])
			before := marks[k].until.Load()
			d.Observe(keys[k], outcome)
			if outcome == Success {
				run[k] = 0
			} else if !wasEjected {
				run[k]++
			}

			if d.Ejected(keys[k]) && !wasEjected {
				if outcome == Success || run[k] < cfg.ConsecutiveErrors {
					t.Fatalf("op %d: %s ejected after %v with a run of %d", i, keys[k], outcome, run[k])
				}
				got := time.Duration(marks[k].until.Load() - clock.Now().UnixNano())
				if got <= 0 || got > cfg.MaxEjectFor || (got != cfg.MaxEjectFor && got%cfg.EjectFor != 0) {
					t.Fatalf("op %d: ejection lasts %s", i, got)
				}
				run[k] = 0
			} else if marks[k].until.Load() != before {
				t.Fatalf("op %d: marker moved without an ejection", i)
			}
			if wasEjected {
				run[k] = 0
			}
			if c := d.EjectedCount(); c > limit {
				t.Fatalf("op %d: %d of %d endpoints ejected, cap %d", i, c, n, limit)
			}
		}
	})
}

// FuzzConfig checks that Validate never panics and that every Config it
// accepts makes a Detector whose settings are all positive.
func FuzzConfig(f *testing.F) {
	f.Add(0, int64(0), 0, int64(0))
	f.Add(3, int64(time.Second), 100, int64(time.Minute))
	f.Add(-1, int64(-1), 101, int64(-1))
	f.Add(1, int64(1), 1, int64(9223372036854775807))
	f.Fuzz(func(t *testing.T, errs int, ejectFor int64, percent int, maxFor int64) {
		cfg := Config{ConsecutiveErrors: errs, EjectFor: time.Duration(ejectFor), MaxEjectedPercent: percent, MaxEjectFor: time.Duration(maxFor)}
		err := cfg.Validate()
		d, newErr := New(cfg, newFakeClock().Now)
		if (err == nil) != (newErr == nil) {
			t.Fatalf("Validate = %v but New = %v", err, newErr)
		}
		if err != nil {
			return
		}
		c := d.Config()
		if c.ConsecutiveErrors <= 0 || c.EjectFor <= 0 || c.MaxEjectedPercent <= 0 || c.MaxEjectedPercent > 100 || c.MaxEjectFor < c.EjectFor {
			t.Fatalf("bad settings after defaults: %+v", c)
		}
		d.SetEndpoints([]string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"})
		for range c.ConsecutiveErrors % 64 {
			d.Observe("127.0.0.1:1", ServerError)
		}
		d.Ejected("127.0.0.1:1")
	})
}
