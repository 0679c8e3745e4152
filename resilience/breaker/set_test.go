package breaker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/resilience"
)

const key = "127.0.0.1:9001"

func TestOpensAfterConsecutiveFailures(t *testing.T) {
	s, _ := newSet(t, Config{ConsecutiveFailures: 3})
	for range 2 {
		call(t, s, key, false)
	}
	call(t, s, key, true) // a success ends the run
	for range 2 {
		if !call(t, s, key, false) {
			t.Fatal("closed breaker refused a request")
		}
		mustState(t, s, key, Closed)
	}
	call(t, s, key, false)
	mustState(t, s, key, Open)
	if _, err := s.Allow(key); !errors.Is(err, ErrOpen) {
		t.Fatalf("Allow on open breaker: err = %v, want ErrOpen", err)
	}
}

func TestDefaultTripsAfterFive(t *testing.T) {
	s, _ := newSet(t, Config{})
	for i := range 5 {
		mustState(t, s, key, Closed)
		if !call(t, s, key, false) {
			t.Fatalf("request %d refused", i)
		}
	}
	mustState(t, s, key, Open)
}

// trip opens key's breaker, which must trip after n failures.
func trip(t *testing.T, s *Set, n int) {
	t.Helper()
	for range n {
		call(t, s, key, false)
	}
	mustState(t, s, key, Open)
}

func TestHalfOpenExactlyAfterOpenFor(t *testing.T) {
	const openFor = 7 * time.Second
	s, clock := newSet(t, Config{ConsecutiveFailures: 1, OpenFor: openFor})
	trip(t, s, 1)

	clock.Advance(openFor - time.Nanosecond)
	mustState(t, s, key, Open)
	if call(t, s, key, true) {
		t.Fatal("request let through 1ns before the open period ends")
	}
	clock.Advance(time.Nanosecond)
	mustState(t, s, key, HalfOpen)

	done, err := s.Allow(key)
	if err != nil {
		t.Fatalf("trial request refused: %v", err)
	}
	if _, err := s.Allow(key); !errors.Is(err, ErrOpen) {
		t.Fatalf("second request during the trial: err = %v, want ErrOpen", err)
	}
	done(true)
	mustState(t, s, key, Closed)
	if !call(t, s, key, true) {
		t.Fatal("closed breaker refused a request")
	}
}

func TestFailedTrialReopens(t *testing.T) {
	const openFor = 3 * time.Second
	s, clock := newSet(t, Config{ConsecutiveFailures: 2, OpenFor: openFor})
	trip(t, s, 2)
	clock.Advance(openFor)
	mustState(t, s, key, HalfOpen)
	if !call(t, s, key, false) {
		t.Fatal("trial request refused")
	}
	// A new full open period starts at the failed trial.
	mustState(t, s, key, Open)
	clock.Advance(openFor - 1)
	mustState(t, s, key, Open)
	clock.Advance(1)
	mustState(t, s, key, HalfOpen)
	if !call(t, s, key, true) {
		t.Fatal("second trial refused")
	}
	mustState(t, s, key, Closed)
}

func TestHalfOpenRequests(t *testing.T) {
	s, clock := newSet(t, Config{ConsecutiveFailures: 1, OpenFor: time.Second, HalfOpenRequests: 3})
	trip(t, s, 1)
	clock.Advance(time.Second)

	var dones []func(bool)
	for i := range 3 {
		done, err := s.Allow(key)
		if err != nil {
			t.Fatalf("trial %d refused: %v", i, err)
		}
		dones = append(dones, done)
	}
	if _, err := s.Allow(key); !errors.Is(err, ErrOpen) {
		t.Fatalf("fourth trial: err = %v, want ErrOpen", err)
	}
	for _, done := range dones {
		mustState(t, s, key, HalfOpen)
		done(true)
	}
	mustState(t, s, key, Closed)
}

func TestFailureRatio(t *testing.T) {
	cfg := Config{ConsecutiveFailures: 1000, FailureRatio: 0.5, MinRequests: 10, Window: time.Hour}

	t.Run("below MinRequests", func(t *testing.T) {
		s, _ := newSet(t, cfg)
		// 9 finished requests, 6 failed: above the ratio, below the count.
		for range 3 {
			call(t, s, key, false)
			call(t, s, key, false)
			call(t, s, key, true)
		}
		mustState(t, s, key, Closed)
		call(t, s, key, false) // 10 finished, 7 failed
		mustState(t, s, key, Open)
	})
	t.Run("at the ratio", func(t *testing.T) {
		s, _ := newSet(t, cfg)
		for range 20 {
			call(t, s, key, true)
			call(t, s, key, false)
		}
		mustState(t, s, key, Closed) // exactly half: not above
	})
	t.Run("off when zero", func(t *testing.T) {
		s, _ := newSet(t, Config{ConsecutiveFailures: 1000, MinRequests: 1})
		for range 50 {
			call(t, s, key, false)
			call(t, s, key, false)
			call(t, s, key, true)
		}
		mustState(t, s, key, Closed)
	})
	t.Run("in-flight requests do not count", func(t *testing.T) {
		s, _ := newSet(t, cfg)
		var pending []func(bool)
		for range 30 {
			done, err := s.Allow(key)
			if err != nil {
				t.Fatal(err)
			}
			pending = append(pending, done)
		}
		for range 6 {
			call(t, s, key, false)
		}
		for range 3 {
			call(t, s, key, true)
		}
		mustState(t, s, key, Closed) // 9 finished
		call(t, s, key, false)
		mustState(t, s, key, Open)
		for _, done := range pending {
			done(true) // outcomes from the closed period are ignored
		}
		mustState(t, s, key, Open)
	})
}

func TestWindowForgetsOldFailures(t *testing.T) {
	// The window rolls on gobreaker's wall clock: wait for it to drop the
	// failures, then check that one more does not trip.
	s, _ := newSet(t, Config{ConsecutiveFailures: 3, Window: 20 * time.Millisecond})
	call(t, s, key, false)
	call(t, s, key, false)
	e := s.lookup(key)
	waitFor(t, 5*time.Second, func() bool {
		e.cb.State() // rolls the window; the breaker is closed throughout
		return e.cb.Counts().ConsecutiveFailures == 0
	})
	call(t, s, key, false)
	mustState(t, s, key, Closed)
	call(t, s, key, false)
	call(t, s, key, false)
	mustState(t, s, key, Open)
}

func TestRacingRequestWithdrawn(t *testing.T) {
	// A request that saw the breaker closed reaches gobreaker after the
	// breaker opened and gobreaker's own timeout ran out.
	s, clock := newSet(t, Config{ConsecutiveFailures: 1, OpenFor: time.Minute})
	trip(t, s, 1)
	e := s.lookup(key)
	if _, err := s.admit(e); !errors.Is(err, ErrOpen) {
		t.Fatalf("admit during open period: err = %v, want ErrOpen", err)
	}
	if c := e.cb.Counts(); c.TotalExclusions != 1 || c.TotalFailures != 0 {
		t.Fatalf("withdrawn request counted: %+v", c)
	}
	mustState(t, s, key, Open)
	clock.Advance(time.Minute)
	// The withdrawn request does not hold the trial slot.
	if !call(t, s, key, true) {
		t.Fatal("trial refused after a withdrawn request")
	}
	mustState(t, s, key, Closed)
}

func TestAttachMarksEndpoint(t *testing.T) {
	const openFor = 10 * time.Second
	s, clock := newSet(t, Config{ConsecutiveFailures: 2, OpenFor: openFor})
	ep := &resilience.Endpoint{Addr: key}
	s.Attach(key, ep)
	var r recorder
	s.Attach("127.0.0.1:9002", &r)

	now := clock.Now().UnixNano()
	if !ep.Available(now) {
		t.Fatal("endpoint unavailable before any failure")
	}
	trip(t, s, 2)
	until := clock.Now().Add(openFor).UnixNano()
	if ep.Available(now) || ep.Available(until-1) {
		t.Fatal("endpoint available while its breaker is open")
	}
	if !ep.Available(until) {
		t.Fatal("endpoint unavailable once its breaker turns half-open")
	}

	// Attaching to an open breaker marks at once.
	for range 2 {
		call(t, s, "127.0.0.1:9002", false)
	}
	var late recorder
	s.Attach("127.0.0.1:9002", &late)
	if got := late.until.Load(); got != until {
		t.Fatalf("late marker until = %d, want %d", got, until)
	}
	// The replaced marker saw the opening, the new one sees the next.
	if got := r.until.Load(); got != until {
		t.Fatalf("first marker until = %d, want %d", got, until)
	}
	clock.Advance(openFor)
	call(t, s, "127.0.0.1:9002", false)
	if got, want := late.until.Load(), clock.Now().Add(openFor).UnixNano(); got != want {
		t.Fatalf("reopening marked until %d, want %d", got, want)
	}
	if r.until.Load() != until {
		t.Fatal("detached marker was marked")
	}
}

func TestCheckAll(t *testing.T) {
	keys := []string{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"}
	s, clock := newSet(t, Config{ConsecutiveFailures: 1, OpenFor: 10 * time.Second})

	if err := s.CheckAll(nil); err != nil {
		t.Fatalf("CheckAll(nil) = %v", err)
	}
	if err := s.CheckAll(keys); err != nil {
		t.Fatalf("CheckAll on unknown keys = %v", err)
	}
	for i, k := range keys {
		if err := s.CheckAll(keys); err != nil {
			t.Fatalf("CheckAll with %d of %d open = %v", i, len(keys), err)
		}
		call(t, s, k, false)
		clock.Advance(time.Second)
	}
	err := s.CheckAll(keys)
	if !errors.Is(err, ErrAllOpen) {
		t.Fatalf("CheckAll with all open = %v, want ErrAllOpen", err)
	}
	var all *AllOpenError
	if !errors.As(err, &all) || all.Endpoints != 3 || all.Retry != 7*time.Second {
		t.Fatalf("CheckAll error = %#v, want 3 endpoints, retry 7s", err)
	}
	want := "breaker: all 3 endpoints failing, circuits open; failing fast (next trial in 7s): check the service's health"
	if err.Error() != want {
		t.Fatalf("message = %q\nwant %q", err, want)
	}

	// The first breaker turns half-open: its trial may be sent.
	clock.Advance(7 * time.Second)
	if err := s.CheckAll(keys); err != nil {
		t.Fatalf("CheckAll with one half-open = %v", err)
	}
	// Once the trial is under way, requests fail fast again.
	done, err := s.Allow(keys[0])
	if err != nil {
		t.Fatalf("trial refused: %v", err)
	}
	if err := s.CheckAll(keys); !errors.As(err, &all) || all.Retry != time.Second {
		t.Fatalf("CheckAll during the trial = %v, want retry 1s", err)
	}
	done(true)
	if err := s.CheckAll(keys); err != nil {
		t.Fatalf("CheckAll after a closing trial = %v", err)
	}
}

func TestCheckAllTrialsOnly(t *testing.T) {
	s, clock := newSet(t, Config{ConsecutiveFailures: 1, OpenFor: time.Second})
	call(t, s, key, false)
	clock.Advance(time.Second)
	done, err := s.Allow(key)
	if err != nil {
		t.Fatal(err)
	}
	defer done(true)
	err = s.CheckAll([]string{key})
	var all *AllOpenError
	if !errors.As(err, &all) || all.Retry != 0 {
		t.Fatalf("CheckAll = %v, want retry 0", err)
	}
	if want := "breaker: all 1 endpoints failing, circuits open; failing fast (trial requests under way): check the service's health"; err.Error() != want {
		t.Fatalf("message = %q", err)
	}
}

func TestRetainAndRemove(t *testing.T) {
	s, _ := newSet(t, Config{ConsecutiveFailures: 1})
	keys := []string{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"}
	for _, k := range keys {
		call(t, s, k, false)
	}
	pending, err := s.Allow("127.0.0.1:9004")
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4 {
		t.Fatalf("Len = %d, want 4", s.Len())
	}
	s.Retain(keys[1:])
	if s.Len() != 2 {
		t.Fatalf("Len after Retain = %d, want 2", s.Len())
	}
	pending(false) // outcome for a dropped breaker: ignored
	if s.Len() != 2 {
		t.Fatal("late outcome re-created a dropped breaker")
	}
	mustState(t, s, keys[0], Closed) // unknown again
	mustState(t, s, keys[1], Open)
	if !call(t, s, keys[0], true) {
		t.Fatal("re-created breaker is not closed")
	}
	s.Remove(keys[1])
	s.Remove("127.0.0.1:1") // unknown: no-op
	mustState(t, s, keys[1], Closed)
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2", s.Len())
	}
}

// querier is a Marker that queries the Set from inside gobreaker's lock,
// as the Marker contract allows.
type querier struct {
	s   *Set
	key string
}

func (q querier) Eject(time.Time) {
	q.s.Open(q.key)
	q.s.State(q.key)
}

func TestConcurrentUse(t *testing.T) {
	// Every method at once, under -race, with state changes throughout:
	// OnStateChange must never deadlock with the queries.
	s, clock := newSet(t, Config{ConsecutiveFailures: 2, FailureRatio: 0.3, MinRequests: 5, OpenFor: time.Millisecond, HalfOpenRequests: 2})
	keys := []string{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"}
	for _, k := range keys {
		s.Attach(k, querier{s, k})
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 2000 {
				k := keys[r.IntN(len(keys))]
				switch i % 4 {
				case 0, 1:
					if done, err := s.Allow(k); err == nil {
						done(r.IntN(3) != 0)
					}
				case 2:
					s.Open(k)
					s.State(k)
					_ = s.CheckAll(keys)
				case 3:
					clock.Advance(100 * time.Microsecond)
					if i%200 == 3 {
						s.Attach(k, querier{s, k})
						s.Retain(keys)
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	_, err := New(Config{FailureRatio: 2}, nil)
	var fe *fielderr.Error
	if !errors.As(err, &fe) || fe.Key != "circuitBreaker.failureRatio" {
		t.Fatalf("New with failureRatio 2: err = %v", err)
	}
}

func TestNilClockIsWallClock(t *testing.T) {
	s, err := New(Config{ConsecutiveFailures: 1, OpenFor: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	call(t, s, key, false)
	mustState(t, s, key, Open)
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Closed: "closed", HalfOpen: "half-open", Open: "open", State(9): "State(9)"} {
		if got := fmt.Sprint(s); got != want {
			t.Errorf("%d.String() = %q, want %q", int32(s), got, want)
		}
	}
}
