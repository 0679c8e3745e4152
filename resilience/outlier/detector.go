package outlier

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Marker receives ejections. *resilience.Endpoint implements it, which is
// how an ejected endpoint leaves picking.
//
// Eject is called while the [Detector] holds its lock, from the goroutine
// whose [Detector.Observe] or [Detector.Attach] caused the ejection: it must
// not block, and of the Detector's methods it may call only Ejected.
type Marker interface {
	// Eject takes the endpoint out of picking until the given time.
	Eject(until time.Time)
}

// Detector tracks the endpoints of one destination service and ejects
// those that keep failing.
//
// All methods are safe for concurrent use. [Detector.Observe] and
// [Detector.Ejected] are for the request path: they read an immutable key
// table swapped atomically, and Observe takes the Detector's lock only when
// an endpoint reaches ConsecutiveErrors. [Detector.SetEndpoints] and
// [Detector.Attach] are for catalog changes.
type Detector struct {
	cfg Config
	now func() time.Time

	mu      sync.Mutex                        // serializes ejections and writers of entries
	entries atomic.Pointer[map[string]*entry] // never modified once stored
}

// entry is the detection state of one endpoint.
type entry struct {
	key    string
	errors atomic.Int64 // consecutive errors
	// until is the end of the current ejection in unix nanoseconds of the
	// Detector's clock; 0 when not ejected.
	until  atomic.Int64
	marker atomic.Pointer[Marker]

	// Guarded by Detector.mu.
	ejections int64 // the multiplier of EjectFor for the latest ejection
	lastUntil int64 // end of the latest ejection, unix nanoseconds
}

// New returns a Detector tracking no endpoints, with the settings of cfg
// after applying defaults to its zero fields. now is the clock that times
// ejections; if nil, time.Now. New returns cfg's [Config.Validate] error,
// if any. The Detector starts no goroutines and needs no closing.
func New(cfg Config, now func() time.Time) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	d := &Detector{cfg: cfg.WithDefaults(), now: now}
	d.entries.Store(&map[string]*entry{})
	return d, nil
}

// Config returns the Detector's configuration with defaults applied.
func (d *Detector) Config() Config { return d.cfg }

// SetEndpoints makes keys the set of endpoints the Detector tracks, for
// example when the catalog changes. Endpoints that stay keep their state;
// endpoints that leave are forgotten, and outcomes that still arrive for
// them are ignored. It does not keep keys.
func (d *Detector) SetEndpoints(keys []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := *d.entries.Load()
	m := make(map[string]*entry, len(keys))
	for _, k := range keys {
		e := old[k]
		if e == nil {
			e = &entry{key: k}
		}
		m[k] = e
	}
	d.entries.Store(&m)
}

// Attach tracks key, if it is not tracked yet, and sends its ejections to
// m from now on; if key is ejected now, m is marked at once. A later
// Attach for the same key replaces m.
func (d *Detector) Attach(key string, m Marker) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := *d.entries.Load()
	e := old[key]
	if e == nil {
		e = &entry{key: key}
		n := make(map[string]*entry, len(old)+1)
		for k, v := range old {
			n[k] = v
		}
		n[key] = e
		d.entries.Store(&n)
	}
	e.marker.Store(&m)
	if until := e.until.Load(); d.now().UnixNano() < until {
		m.Eject(time.Unix(0, until))
	}
}

// Observe records the outcome of one request to key, ejecting the endpoint
// when that makes ConsecutiveErrors errors in a row and the cap on ejected
// endpoints allows. Outcomes for keys the Detector does not track are
// ignored, as are errors while the endpoint is already ejected.
//
// Observe is called from every goroutine that finishes a request; it takes
// the Detector's lock only to decide an ejection and never blocks
// otherwise.
func (d *Detector) Observe(key string, outcome Outcome) {
	e := (*d.entries.Load())[key]
	if e == nil {
		return
	}
	if outcome == Success {
		if e.errors.Load() != 0 {
			e.errors.Store(0)
		}
		return
	}
	if u := e.until.Load(); u != 0 && d.now().UnixNano() < u {
		return // a request sent before the ejection
	}
	if e.errors.Add(1) >= int64(d.cfg.ConsecutiveErrors) {
		d.eject(e)
	}
}

// Ejected reports whether key is ejected now; false for a key the Detector
// does not track. It never takes a lock and reads the clock only for an
// endpoint that has been ejected.
func (d *Detector) Ejected(key string) bool {
	e := (*d.entries.Load())[key]
	if e == nil {
		return false
	}
	u := e.until.Load()
	if u == 0 {
		return false
	}
	if d.now().UnixNano() < u {
		return true
	}
	e.until.CompareAndSwap(u, 0)
	return false
}

// EjectedCount returns the number of endpoints ejected now. It takes the
// Detector's lock, so that the count never exceeds the cap even while
// ejections are being decided.
func (d *Detector) EjectedCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now().UnixNano()
	n := 0
	for _, e := range *d.entries.Load() {
		if now < e.until.Load() {
			n++
		}
	}
	return n
}

// maxEjected returns how many of n endpoints may be ejected at once.
func (d *Detector) maxEjected(n int) int {
	return min(n*d.cfg.MaxEjectedPercent/100, n-1)
}

// eject ejects e if it is still tracked, not ejected already, and the cap
// allows.
func (d *Detector) eject(e *entry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	entries := *d.entries.Load()
	if entries[e.key] != e {
		return // forgotten by SetEndpoints meanwhile
	}
	now := d.now().UnixNano()
	if now < e.until.Load() {
		// Errors of requests sent before the ejection: the run is
		// already paid for.
		e.errors.Store(0)
		return
	}
	if e.errors.Load() < int64(d.cfg.ConsecutiveErrors) {
		return // a success arrived meanwhile
	}
	ejected := 0
	for _, o := range entries {
		if now < o.until.Load() {
			ejected++
		}
	}
	if ejected >= d.maxEjected(len(entries)) {
		// The errors stay counted: the next one tries again, and succeeds
		// once another endpoint returns.
		return
	}

	ejectFor, maxFor := int64(d.cfg.EjectFor), int64(d.cfg.MaxEjectFor)
	steps := maxFor/ejectFor + 1 // from this multiplier on, MaxEjectFor holds
	if e.ejections > 0 && now > e.lastUntil {
		e.ejections -= (now - e.lastUntil) / ejectFor
	}
	e.ejections = min(max(e.ejections, 0)+1, steps)
	dur := maxFor
	if e.ejections < steps {
		dur = min(ejectFor*e.ejections, maxFor)
	}
	until := now + dur
	if until < now {
		until = math.MaxInt64 // an ejection beyond the year 2262
	}

	e.lastUntil = until
	e.until.Store(until)
	e.errors.Store(0)
	if m := e.marker.Load(); m != nil {
		(*m).Eject(time.Unix(0, until))
	}
}
