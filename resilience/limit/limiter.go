package limit

import (
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxCallers is how many caller identities a [Limiter] remembers
// per-caller buckets for unless [WithMaxCallers] says otherwise.
const DefaultMaxCallers = 10000

// concurrencyRetryAfter is the Retry-After of a concurrency rejection. A
// slot frees up within one request's latency, which the limiter does not
// know for a fixed limit; one second is the smallest value the header can
// carry.
const concurrencyRetryAfter = time.Second

// Reason says which limit rejected a request. The zero Reason, [Accepted],
// means none did.
type Reason uint8

// Reasons, one per limit. Each has its own counter in [Stats].
const (
	Accepted    Reason = iota // no limit fired
	CallerRate                // the caller's rateLimit.perCaller bucket was empty (429)
	TotalRate                 // the rateLimit.total bucket was empty (429)
	Concurrency               // maxConcurrent requests were in flight (503)
	Adaptive                  // the adaptive concurrency limit was reached (503)
)

var reasonNames = [...]string{"accepted", "caller_rate", "total_rate", "concurrency", "adaptive"}

// String returns a snake_case name for r, suitable as a metric label.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", r)
}

// Rejection describes why a request was refused. The zero Rejection means
// the request was admitted.
type Rejection struct {
	// Reason is the limit that fired.
	Reason Reason
	// RetryAfter is how long the caller should wait before trying again:
	// until its bucket holds a token again for a rate limit, one second
	// for a concurrency limit.
	RetryAfter time.Duration
}

// Rejected reports whether the request was refused.
func (r Rejection) Rejected() bool { return r.Reason != Accepted }

// StatusCode returns the HTTP status a refused request gets: 429 Too Many
// Requests for a rate limit, 503 Service Unavailable for a concurrency
// limit, and 200 for an admitted request.
func (r Rejection) StatusCode() int {
	switch r.Reason {
	case Accepted:
		return http.StatusOK
	case CallerRate, TotalRate:
		return http.StatusTooManyRequests
	default:
		return http.StatusServiceUnavailable
	}
}

// Ticket is an admitted request. Its owner calls [Ticket.Done] exactly
// once, when the request has finished. The zero Ticket, returned with a
// rejection, has a Done that does nothing.
type Ticket struct {
	l        *Limiter
	a        *adaptive
	inFlight int64
	epoch    uint32
}

// Done releases the request's concurrency slot and reports how it went:
// latency is how long it took, dropped is true when it failed in a way
// that signals overload (it timed out, the client gave up, the handler
// crashed). Done must be called exactly once per admitted ticket; it may be
// called from any goroutine, does not block for long, and does not
// allocate.
func (t Ticket) Done(latency time.Duration, dropped bool) {
	if t.l == nil {
		return
	}
	t.l.inFlight.Add(-1)
	if t.a != nil {
		t.a.sample(latency, dropped, t.inFlight, t.epoch)
	}
}

// Limiter admits or refuses inbound requests by the limits of a [Config].
// All its methods are safe for concurrent use.
type Limiter struct {
	now     func() time.Time
	callers *callers
	snap    atomic.Pointer[snapshot]
	mu      sync.Mutex // serializes Update

	inFlight atomic.Int64
	counts   [len(reasonNames)]counter
}

// counter is a padded atomic counter, so that counters bumped by
// different requests do not share a cache line.
type counter struct {
	atomic.Uint64
	_ [56]byte
}

// snapshot is the configuration in force: immutable once published,
// except that the rate.Limiters it points to are themselves concurrent.
type snapshot struct {
	cfg           Config
	perCaller     *Bucket
	callerGen     uint64
	total         *rate.Limiter
	maxConcurrent int64 // 0 = unlimited
	adaptive      *adaptive
}

// Option configures a [Limiter] beyond what the policy says.
type Option func(*Limiter)

// WithClock makes the limiter read the time from now instead of
// [time.Now]; tests use it to drive buckets and adaptive windows without
// sleeping. now is called from every goroutine that calls Acquire or Done.
func WithClock(now func() time.Time) Option {
	return func(l *Limiter) {
		if now != nil {
			l.now = now
		}
	}
}

// WithMaxCallers bounds how many caller identities keep a per-caller
// bucket; a new caller beyond the bound replaces the least recently seen.
// If n is zero or less, [DefaultMaxCallers].
func WithMaxCallers(n int) Option {
	return func(l *Limiter) {
		if n > 0 {
			l.callers = newCallers(n)
		}
	}
}

// New returns a Limiter enforcing cfg. It returns an error wrapping
// cfg.Validate's when cfg is invalid. A Limiter starts no goroutines and
// needs no closing.
func New(cfg Config, opts ...Option) (*Limiter, error) {
	l := &Limiter{now: time.Now}
	for _, o := range opts {
		o(l)
	}
	if l.callers == nil {
		l.callers = newCallers(DefaultMaxCallers)
	}
	if err := l.Update(cfg); err != nil {
		return nil, err
	}
	return l, nil
}

// Update replaces the limits in force with cfg's, atomically: each
// request is judged entirely by the old limits or entirely by the new. It
// keeps what is worth keeping: callers keep the tokens in their buckets
// (capped to a smaller burst), the total bucket keeps its tokens, requests
// in flight still count against the new concurrency limits, and the
// adaptive limit carries on from its current value. An invalid cfg is
// rejected with an error wrapping cfg.Validate's and the old limits stay.
// Update may be called from any goroutine, concurrently with everything.
func (l *Limiter) Update(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("limit: invalid config: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.snap.Load()
	now := l.now()
	s := &snapshot{cfg: cfg, maxConcurrent: int64(cfg.MaxConcurrent)}
	if r := cfg.RateLimit; r != nil {
		if r.PerCaller != nil {
			b := *r.PerCaller
			s.perCaller = &b
			s.callerGen = 1
			if old != nil {
				s.callerGen = old.callerGen
				if old.perCaller == nil || *old.perCaller != b {
					s.callerGen++
				}
			}
		}
		if t := r.Total; t != nil {
			if old != nil && old.total != nil {
				// rate.Limiter values are shared with requests in
				// flight under the old snapshot; setting them is safe.
				s.total = old.total
				s.total.SetLimitAt(now, rate.Limit(t.RPS))
				s.total.SetBurstAt(now, t.burst())
			} else {
				s.total = rate.NewLimiter(rate.Limit(t.RPS), t.burst())
			}
		}
	}
	if s.perCaller == nil && old != nil && old.perCaller != nil {
		l.callers.reset()
	}
	if a := cfg.AdaptiveConcurrency; a != nil {
		var prev *adaptive
		if old != nil && old.adaptive != nil {
			prev = old.adaptive
		}
		if prev != nil && prev.cfg == a.withDefaults() {
			s.adaptive = prev
		} else {
			s.adaptive = newAdaptive(*a, l.now, prev)
		}
	}
	l.snap.Store(s)
	return nil
}

// Config returns the configuration in force.
func (l *Limiter) Config() Config { return l.snap.Load().cfg }

// Acquire asks admission for one request from caller, the identity the
// per-caller rate limit is keyed by (any string; "" is a caller like any
// other). If the request is admitted, the Rejection is zero and the
// caller must call Done on the Ticket when the request finishes; if not,
// the Ticket is zero and the Rejection says which limit fired.
//
// Acquire is called concurrently from every goroutine serving a request.
// It never blocks for long, does not keep caller, and allocates only when
// it meets a caller it does not remember.
func (l *Limiter) Acquire(caller string) (Ticket, Rejection) {
	s := l.snap.Load()
	n := l.inFlight.Add(1)
	if rej := s.admitConcurrency(n); rej.Reason != Accepted {
		l.inFlight.Add(-1)
		l.counts[rej.Reason].Add(1)
		return Ticket{}, rej
	}
	if s.perCaller != nil || s.total != nil {
		if rej := l.admitRate(s, caller); rej.Reason != Accepted {
			l.inFlight.Add(-1)
			l.counts[rej.Reason].Add(1)
			return Ticket{}, rej
		}
	}
	l.counts[Accepted].Add(1)
	t := Ticket{l: l, inFlight: n}
	if a := s.adaptive; a != nil {
		t.a = a
		t.epoch = a.epoch.Load()
	}
	return t, Rejection{}
}

// admitConcurrency checks n, the requests in flight counting this one,
// against the concurrency limits. It runs before the rate limits so that
// a request refused for concurrency spends no tokens.
func (s *snapshot) admitConcurrency(n int64) Rejection {
	if s.maxConcurrent > 0 && n > s.maxConcurrent {
		return Rejection{Reason: Concurrency, RetryAfter: concurrencyRetryAfter}
	}
	if s.adaptive != nil && n > s.adaptive.current() {
		return Rejection{Reason: Adaptive, RetryAfter: concurrencyRetryAfter}
	}
	return Rejection{}
}

// admitRate takes a token from the caller's bucket, then from the total
// bucket. A request refused by the total bucket has still spent its
// caller's token: a caller that keeps knocking on an overloaded instance
// slows itself down, and the total bucket is never drained by callers
// over their own limit.
func (l *Limiter) admitRate(s *snapshot, caller string) Rejection {
	now := l.now()
	if s.perCaller != nil {
		b := l.callers.bucket(caller, s.perCaller, s.callerGen, now)
		if !b.AllowN(now, 1) {
			return Rejection{Reason: CallerRate, RetryAfter: retryAfter(b, now)}
		}
	}
	if s.total != nil && !s.total.AllowN(now, 1) {
		return Rejection{Reason: TotalRate, RetryAfter: retryAfter(s.total, now)}
	}
	return Rejection{}
}

// retryAfter returns how long until b holds a whole token.
func retryAfter(b *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - b.TokensAt(now)
	r := float64(b.Limit())
	if missing <= 0 || r <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(math.Min(missing/r, maxRetryAfter) * float64(time.Second)))
}

// maxRetryAfter caps a rate limit's Retry-After, in seconds, so that a
// tiny rate cannot overflow a time.Duration.
const maxRetryAfter = 24 * 60 * 60

// Stats is a snapshot of a Limiter's counters since it was made.
type Stats struct {
	// Accepted counts admitted requests.
	Accepted uint64
	// Rejected counts refused requests by the limit that fired, indexed
	// by [Reason]; Rejected[Accepted] is always zero.
	Rejected [len(reasonNames)]uint64
	// InFlight is the number of admitted requests not yet Done.
	InFlight int64
	// AdaptiveLimit is the adaptive concurrency limit in force, or 0 when
	// adaptive concurrency is off.
	AdaptiveLimit int64
	// Callers is the number of callers whose buckets are remembered.
	Callers int
}

// Stats returns the limiter's counters. It may be called from any
// goroutine; it briefly locks each part of the caller table in turn.
func (l *Limiter) Stats() Stats {
	st := Stats{
		Accepted: l.counts[Accepted].Load(),
		InFlight: l.inFlight.Load(),
		Callers:  l.callers.len(),
	}
	for r := CallerRate; int(r) < len(reasonNames); r++ {
		st.Rejected[r] = l.counts[r].Load()
	}
	if a := l.snap.Load().adaptive; a != nil {
		st.AdaptiveLimit = a.current()
	}
	return st
}
