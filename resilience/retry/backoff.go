package retry

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// RetryAfterFactor bounds how long [Backoff.Pause] honours a server's
// Retry-After: at most RetryAfterFactor × Max.
const RetryAfterFactor = 4

// Delay returns the wait before retry number retry (1 for the first
// retry), drawn with full jitter from [0, min(Max, Base×2^(retry-1))); zero
// fields take their defaults and a retry below 1 counts as 1. rnd returns
// a number in [0, 1), like math/rand/v2.Float64, which is used when rnd is
// nil; values outside [0, 1) are clamped. The result is never negative and
// never reaches the effective Max.
//
// Delay is safe for concurrent use if rnd is, and does not allocate.
func (b Backoff) Delay(retry int, rnd func() float64) time.Duration {
	ceiling := b.ceiling(retry)
	if ceiling <= 0 {
		return 0
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	f := rnd()
	if !(f > 0) { // also catches NaN
		return 0
	}
	if f >= 1 {
		return ceiling - 1
	}
	// float64 rounding may reach the ceiling itself for large ceilings.
	return min(time.Duration(f*float64(ceiling)), ceiling-1)
}

// ceiling returns min(Max, Base×2^(retry-1)) without overflowing.
func (b Backoff) ceiling(retry int) time.Duration {
	b = b.withDefaults()
	if b.Base <= 0 || b.Max <= 0 {
		return 0
	}
	c := b.Base
	for i := 1; i < retry && c < b.Max; i++ {
		if c > b.Max/2 {
			return b.Max // doubling would pass Max, or overflow
		}
		c *= 2
	}
	return min(c, b.Max)
}

// Pause returns how long to wait before retry number retry, and whether to
// retry at all. retryAfter is the failed response's Retry-After header
// value ("" if none) and now the current time, used for its HTTP-date
// form.
//
// A valid Retry-After is honoured exactly, even when it is shorter than
// the backoff: the server knows best when it will be ready. A Retry-After
// longer than RetryAfterFactor × Max is not waited for: Pause returns
// false, and the caller should end the call with the server's response
// rather than retry before the server asked. Without a valid Retry-After,
// Pause returns [Backoff.Delay] and true.
//
// Pause is safe for concurrent use if rnd is, and allocates only to parse
// the HTTP-date form of Retry-After.
func (b Backoff) Pause(retry int, retryAfter string, now time.Time, rnd func() float64) (time.Duration, bool) {
	if retryAfter != "" {
		if d, ok := ParseRetryAfter(retryAfter, now); ok {
			limit := b.withDefaults().Max
			if limit <= MaxBackoff {
				limit *= RetryAfterFactor
			}
			return d, d <= limit
		}
	}
	return b.Delay(retry, rnd), true
}

// maxRetryAfterSeconds keeps the delay-seconds form within time.Duration.
const maxRetryAfterSeconds = int64((1<<63 - 1) / time.Second)

// ParseRetryAfter parses the value of a Retry-After header (RFC 9110,
// section 10.2.3): either a number of seconds ("120") or an HTTP-date
// ("Fri, 31 Dec 1999 23:59:59 GMT", and the two obsolete forms). It
// returns the wait from now, zero for a date in the past, and false when v
// is neither form. Surrounding spaces and tabs are ignored; a number of
// seconds too large for a time.Duration is capped.
//
// ParseRetryAfter is safe for concurrent use.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.Trim(v, " \t")
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		var secs int64
		for i := 0; i < len(v); i++ {
			c := v[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			if secs <= maxRetryAfterSeconds {
				secs = secs*10 + int64(c-'0')
			}
		}
		secs = min(secs, maxRetryAfterSeconds)
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}
