package retry

import (
	"math"
	"sync"
	"time"
)

// budgetSlots is the number of slots the TTL window is divided into: a
// deposit leaves the budget between 9/10 of TTL and TTL after it was made.
const budgetSlots = 10

// tokenScale is the fixed-point value of one retry; deposits are
// fractions of it.
const tokenScale = 1_000_000

// Budget limits how many retries and hedges a client adds to its traffic,
// with the semantics of Finagle's RetryBudget. Each original request
// [Budget.Deposit]s Ratio of a token; each retry or hedge must
// [Budget.TryWithdraw] a whole one. Deposits and withdrawals leave the
// budget after TTL, and a reserve of MinPerSecond × TTL tokens is always
// there, so that a client with little traffic can still retry. Over any
// whole TTL window, retries ≤ Ratio × requests + MinPerSecond × TTL.
//
// One Budget is shared by every call to one destination. Its methods are
// safe for concurrent use by any number of goroutines, hold a lock for a
// few nanoseconds, never block otherwise and do not allocate. A nil
// *Budget imposes no limit.
type Budget struct {
	now     func() time.Time
	start   time.Time
	width   time.Duration // of one slot
	deposit int64         // value of one Deposit
	reserve int64         // MinPerSecond × TTL

	mu      sync.Mutex
	slot    int64 // index, counted from start, of the newest slot
	balance int64 // sum of ring
	ring    [budgetSlots]int64
}

// NewBudget returns an empty budget configured by cfg, reading time from
// now (time.Now if nil). Zero fields take their defaults; values out of
// the ranges [BudgetConfig] documents are clamped to them, so call
// [Config.Validate] first to report them instead.
func NewBudget(cfg BudgetConfig, now func() time.Time) *Budget {
	if now == nil {
		now = time.Now
	}
	ratio := clampFloat(cfg.Ratio, DefaultRatio, MaxRatio)
	perSecond := clampFloat(cfg.MinPerSecond, DefaultMinPerSecond, MaxMinPerSecond)
	ttl := durationOrDefault(cfg.TTL, DefaultTTL, MinTTL, MaxTTL)
	return &Budget{
		now:     now,
		start:   now(),
		width:   ttl / budgetSlots,
		deposit: int64(ratio * tokenScale), // rounded down: never more than Ratio
		reserve: int64(perSecond * ttl.Seconds() * tokenScale),
	}
}

// clampFloat returns def for zero or NaN, and v clamped to [0, hi]
// otherwise.
func clampFloat(v, def, hi float64) float64 {
	switch {
	case v == 0 || math.IsNaN(v):
		return def
	case v < 0:
		return 0
	case v > hi:
		return hi
	}
	return v
}

// Deposit records one original request (not a retry or a hedge), adding
// Ratio of a token that expires after TTL.
func (b *Budget) Deposit() {
	if b == nil {
		return
	}
	b.DepositAt(b.now())
}

// DepositAt is Deposit for a request made at now, a reading of the
// budget's clock the caller already has.
func (b *Budget) DepositAt(now time.Time) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.advance(now)
	b.ring[b.slot%budgetSlots] += b.deposit
	b.balance += b.deposit
	b.mu.Unlock()
}

// TryWithdraw takes one token for a retry or a hedge and reports whether
// there was one. When it returns false the caller must not send the retry
// or hedge.
func (b *Budget) TryWithdraw() bool {
	if b == nil {
		return true
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	if b.balance+b.reserve < tokenScale {
		return false
	}
	b.ring[b.slot%budgetSlots] -= tokenScale
	b.balance -= tokenScale
	return true
}

// Available returns how many retries TryWithdraw would allow now, for
// statistics. It returns math.MaxInt for a nil Budget.
func (b *Budget) Available() int {
	if b == nil {
		return math.MaxInt
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	return int(max(0, (b.balance+b.reserve)/tokenScale))
}

// advance moves the ring to the slot of now, emptying the slots that fell
// out of the window. A clock that steps back leaves the ring as it is.
// b.mu must be held.
func (b *Budget) advance(now time.Time) {
	idx := int64(now.Sub(b.start) / b.width)
	if idx <= b.slot {
		return
	}
	n := min(idx-b.slot, budgetSlots)
	for i := int64(1); i <= n; i++ {
		j := (b.slot + i) % budgetSlots
		b.balance -= b.ring[j]
		b.ring[j] = 0
	}
	b.slot = idx
}

// durationOrDefault returns def for zero and d clamped to [lo, hi]
// otherwise.
func durationOrDefault(d, def, lo, hi time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < lo:
		return lo
	case d > hi:
		return hi
	}
	return d
}
