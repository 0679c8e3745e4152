package resilience

import "time"

// Eject takes e out of picking until the given time because a circuit
// breaker opened on it or outlier detection ejected it. Unlike
// [Endpoint.MarkDown], a successful request does not end an ejection; it
// ends by itself at until. When marks overlap the later one wins, so a
// breaker and an outlier detector can share one endpoint. Like a down
// endpoint, an ejected one is still picked when no other remains.
//
// Eject is safe for concurrent use, never blocks and does not call back
// into anything, so breakers may call it while holding their own locks.
func (e *Endpoint) Eject(until time.Time) {
	u := until.UnixNano()
	for {
		old := e.ejectedUntil.Load()
		if old >= u || e.ejectedUntil.CompareAndSwap(old, u) {
			return
		}
	}
}

// Ejected reports whether e is ejected at now (unix nanoseconds).
// Ejected(0) is true exactly when an ejection mark is set, whether or not it
// has run out, so a caller can skip the clock read for unmarked endpoints.
// A call with a real now clears a mark that has run out, keeping that
// shortcut cheap afterwards.
func (e *Endpoint) Ejected(now int64) bool {
	u := e.ejectedUntil.Load()
	if u == 0 {
		return false
	}
	if now < u {
		return true
	}
	if now > 0 {
		e.ejectedUntil.CompareAndSwap(u, 0)
	}
	return false
}
