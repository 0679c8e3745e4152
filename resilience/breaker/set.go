package breaker

import (
	"sync"
	"sync/atomic"
	"time"
)

// Set holds the circuit breakers of one destination service, one per
// endpoint key.
//
// All methods are safe for concurrent use. [Set.Allow], [Set.Open] and
// [Set.State] are for the request path: they never block on a writer
// (the key table is an immutable map swapped atomically) and take at most
// the one breaker's own short lock. [Set.Retain], [Set.Remove] and
// [Set.Attach] are for catalog changes and copy the key table.
type Set struct {
	cfg Config
	now func() time.Time

	mu      sync.Mutex                        // serializes writers of entries
	entries atomic.Pointer[map[string]*entry] // never modified once stored
}

// New returns an empty Set with the breaker settings of cfg, after applying
// defaults to its zero fields. now is the clock that times open periods; if
// nil, time.Now. New returns cfg's [Config.Validate] error, if any.
func New(cfg Config, now func() time.Time) (*Set, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	s := &Set{cfg: cfg.WithDefaults(), now: now}
	s.entries.Store(&map[string]*entry{})
	return s, nil
}

// Config returns the Set's configuration with defaults applied.
func (s *Set) Config() Config { return s.cfg }

// lookup returns the breaker of key, or nil.
func (s *Set) lookup(key string) *entry {
	return (*s.entries.Load())[key]
}

// entry returns the breaker of key, creating it if needed.
func (s *Set) entry(key string) *entry {
	if e := s.lookup(key); e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.entries.Load()
	if e := old[key]; e != nil {
		return e
	}
	e := newEntry(s, key)
	m := make(map[string]*entry, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[key] = e
	s.entries.Store(&m)
	return e
}

// Allow asks the breaker of key, created closed if key is new, whether a
// request may be sent. If so it returns done, which the caller must call
// exactly once with the request's outcome: success is false for a failure
// that should count against the endpoint (a connection error, a 5xx,
// a timeout) and true otherwise. If not it returns [ErrOpen], and the
// request must not be sent.
//
// Allow is called from every goroutine that sends a request and does not
// block beyond the breaker's own short lock. done may be called from any
// goroutine, at any later time; an outcome that arrives after the breaker
// changed state is ignored. Allow does not keep key beyond the breaker's
// life.
func (s *Set) Allow(key string) (done func(success bool), err error) {
	e := s.entry(key)
	if State(e.state.Load()) == Open && e.holding(s.now().UnixNano()) {
		return nil, ErrOpen
	}
	return s.admit(e)
}

// admit asks gobreaker to let a request through to e.
func (s *Set) admit(e *entry) (done func(success bool), err error) {
	gdone, err := e.cb.Allow()
	if err != nil {
		// gobreaker.ErrOpenState or ErrTooManyRequests: both hold the
		// request back.
		return nil, ErrOpen
	}
	// A request that found the breaker closed can reach gobreaker just
	// after another request's failure opened it, when gobreaker's own
	// nanosecond timeout has already run out and it lets the request
	// through as a trial. Withdraw it: the open period still holds.
	if State(e.state.Load()) == Open && e.holding(s.now().UnixNano()) {
		gdone(errExcluded)
		return nil, ErrOpen
	}
	return func(success bool) {
		if success {
			gdone(nil)
		} else {
			gdone(errFailed)
		}
	}, nil
}

// Open reports whether the breaker of key is open now, holding every
// request back. It is false for an unknown key and for a half-open breaker.
// Open is the hot-path view for pickers: it never takes a lock and reads
// the clock only when the breaker is open.
func (s *Set) Open(key string) bool {
	e := s.lookup(key)
	return e != nil && State(e.state.Load()) == Open && e.holding(s.now().UnixNano())
}

// State returns the state of the breaker of key now; Closed for an unknown
// key. Like Open, it never takes a lock.
func (s *Set) State(key string) State {
	e := s.lookup(key)
	if e == nil {
		return Closed
	}
	if State(e.state.Load()) == Closed {
		return Closed
	}
	return e.stateAt(s.now().UnixNano())
}

// CheckAll returns an error matching [ErrAllOpen], an *[AllOpenError],
// when the breaker of every key in keys holds requests back: it is open,
// or half-open with all its trial requests under way. It returns nil when
// keys is empty or any of them may be sent to, unknown keys included.
//
// The transport calls CheckAll after [Set.Allow] refused the endpoint the
// picker chose (pickers fall back to an open endpoint only when nothing
// better remains) to tell "pick again" from "fail fast". It does not keep
// keys.
func (s *Set) CheckAll(keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	entries := *s.entries.Load()
	now := s.now().UnixNano()
	var retry int64 = -1
	for _, k := range keys {
		e := entries[k]
		if e == nil {
			return nil
		}
		switch e.stateAt(now) {
		case Closed:
			return nil
		case Open:
			if wait := e.openUntil.Load() - now; retry < 0 || wait < retry {
				retry = wait
			}
		case HalfOpen:
			if !e.trialsBusy() {
				return nil
			}
		}
	}
	return &AllOpenError{Endpoints: len(keys), Retry: time.Duration(max(retry, 0))}
}

// Attach sends the open periods of key's breaker, created if key is new,
// to m from now on; if the breaker is open now, m is marked at once. A
// later Attach for the same key replaces m. Call it when an endpoint joins
// the catalog, with the endpoint that stands for key.
func (s *Set) Attach(key string, m Marker) {
	e := s.entry(key)
	e.marker.Store(&m)
	// Read after storing m: a breaker opening concurrently marks m itself
	// or is seen here.
	if State(e.state.Load()) == Open {
		if until := e.openUntil.Load(); s.now().UnixNano() < until {
			m.Eject(time.Unix(0, until))
		}
	}
}

// Retain drops the breakers of every key not in keys, for endpoints that
// left the catalog. Outcomes still to come for dropped breakers are
// ignored. It does not keep keys.
func (s *Set) Retain(keys []string) {
	keep := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		keep[k] = struct{}{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.entries.Load()
	m := make(map[string]*entry, len(keep))
	for k, e := range old {
		if _, ok := keep[k]; ok {
			m[k] = e
		}
	}
	s.entries.Store(&m)
}

// Remove drops the breaker of key, if any.
func (s *Set) Remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.entries.Load()
	if _, ok := old[key]; !ok {
		return
	}
	m := make(map[string]*entry, len(old))
	for k, e := range old {
		if k != key {
			m[k] = e
		}
	}
	s.entries.Store(&m)
}

// Len returns the number of breakers in the Set.
func (s *Set) Len() int { return len(*s.entries.Load()) }
