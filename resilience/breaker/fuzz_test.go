package breaker

import (
	"math"
	"testing"
	"time"
)

// model is the breaker state machine written out plainly, for requests
// sent one at a time.
type model struct {
	cfg       Config
	state     State // Closed or Open; Open past until is half-open
	failures  uint32
	successes uint32 // trial successes while half-open
	until     time.Time
}

func (m *model) stateAt(now time.Time) State {
	if m.state == Open && !now.Before(m.until) {
		return HalfOpen
	}
	return m.state
}

// request applies one request at now and reports whether it was let
// through.
func (m *model) request(now time.Time, success bool) bool {
	switch m.stateAt(now) {
	case Open:
		return false
	case HalfOpen:
		if !success {
			m.until = now.Add(m.cfg.OpenFor)
			m.successes = 0
			return true
		}
		if m.successes++; m.successes >= m.cfg.HalfOpenRequests {
			m.state, m.failures, m.successes = Closed, 0, 0
		}
		return true
	}
	if success {
		m.failures = 0
		return true
	}
	if m.failures++; m.failures >= m.cfg.ConsecutiveFailures {
		m.state, m.until, m.failures = Open, now.Add(m.cfg.OpenFor), 0
	}
	return true
}

// FuzzStateMachine drives a breaker with a sequence of successes, failures
// and clock steps and checks it against the model after every step.
func FuzzStateMachine(f *testing.F) {
	f.Add(uint8(3), uint8(1), []byte{1, 1, 1, 2, 0, 5, 0, 1, 1, 1, 14, 0})
	f.Add(uint8(1), uint8(3), []byte{1, 29, 0, 0, 1, 29, 0, 0, 0, 0})
	f.Add(uint8(5), uint8(2), []byte{1, 1, 0, 1, 1, 1, 1, 1, 2, 2, 2, 0, 0})
	f.Fuzz(func(t *testing.T, failures, trials uint8, ops []byte) {
		if len(ops) > 500 {
			ops = ops[:500]
		}
		cfg := Config{
			ConsecutiveFailures: uint32(failures%8) + 1,
			HalfOpenRequests:    uint32(trials%4) + 1,
			OpenFor:             10 * time.Second,
			Window:              time.Hour, // no roll-off during the run
		}
		s, clock := newSet(t, cfg)
		m := &model{cfg: cfg.WithDefaults()}
		for i, op := range ops {
			switch op % 3 {
			case 0, 1:
				success := op%3 == 0
				want := m.request(clock.Now(), success)
				if got := call(t, s, key, success); got != want {
					t.Fatalf("op %d: request let through = %v, model says %v", i, got, want)
				}
			case 2:
				clock.Advance(time.Duration(op/3) * time.Second)
			}
			if got, want := s.State(key), m.stateAt(clock.Now()); got != want {
				t.Fatalf("op %d: State = %v, model says %v", i, got, want)
			}
		}
	})
}

// FuzzConfig checks that Validate never panics and that every Config it
// accepts makes a working Set that keeps the fields that were set.
func FuzzConfig(f *testing.F) {
	f.Add(uint32(0), 0.0, uint32(0), int64(0), int64(0), uint32(0))
	f.Add(uint32(3), 0.5, uint32(10), int64(time.Second), int64(time.Minute), uint32(2))
	f.Add(uint32(1), math.NaN(), uint32(1), int64(-1), int64(-1), uint32(1))
	f.Add(uint32(1), 0.1, uint32(1), int64(5), int64(1), uint32(1))
	f.Fuzz(func(t *testing.T, cf uint32, ratio float64, minReq uint32, window, openFor int64, half uint32) {
		cfg := Config{
			ConsecutiveFailures: cf,
			FailureRatio:        ratio,
			MinRequests:         minReq,
			Window:              time.Duration(window),
			OpenFor:             time.Duration(openFor),
			HalfOpenRequests:    half,
		}
		err := cfg.Validate()
		s, newErr := New(cfg, newFakeClock().Now)
		if (err == nil) != (newErr == nil) {
			t.Fatalf("Validate = %v but New = %v", err, newErr)
		}
		if err != nil {
			return
		}
		d := s.Config()
		if d.ConsecutiveFailures == 0 || d.MinRequests == 0 || d.Window <= 0 || d.OpenFor <= 0 || d.HalfOpenRequests == 0 {
			t.Fatalf("defaults not applied: %+v", d)
		}
		if cf != 0 && d.ConsecutiveFailures != cf || openFor != 0 && d.OpenFor != cfg.OpenFor {
			t.Fatalf("set fields changed: %+v from %+v", d, cfg)
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("config with defaults invalid: %v", err)
		}
		for range 3 {
			if done, err := s.Allow(key); err == nil {
				done(false)
			}
		}
		s.State(key)
	})
}
