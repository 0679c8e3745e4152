package retry

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// TimeoutHeader carries the time a request has left, in whole milliseconds
// as 1 to 8 decimal digits ("1500"). The sender computes it from its
// context's deadline just before sending; the receiver bounds its handling
// to that much time from when the request arrived. Being relative, it is
// immune to clock skew between hosts; it does not count the time on the
// wire, which only makes the receiver give up slightly later than the
// caller.
const TimeoutHeader = "Weft-Timeout"

// MaxTimeout is the longest timeout the header carries: 99999999 ms, about
// 27.8 hours. Longer timeouts are sent as MaxTimeout.
const MaxTimeout = 99_999_999 * time.Millisecond

// ErrBadTimeout is wrapped by the errors of [ParseTimeout].
var ErrBadTimeout = errors.New("retry: malformed " + TimeoutHeader + " value")

// EncodeTimeout returns the value of [TimeoutHeader] for a remaining time
// d: "0" when d is not positive (the deadline has passed), otherwise d in
// milliseconds rounded up, so that a live deadline never reads as expired,
// and capped at MaxTimeout. It allocates only the returned string.
func EncodeTimeout(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	if d >= MaxTimeout {
		return strconv.FormatInt(int64(MaxTimeout/time.Millisecond), 10)
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	return strconv.FormatInt(int64(ms), 10)
}

// ParseTimeout parses a [TimeoutHeader] value: 1 to 8 ASCII digits, a
// number of milliseconds. Anything else, including signs, spaces and
// units, is an error wrapping [ErrBadTimeout]. A zero timeout is valid and
// means the caller's deadline has passed.
func ParseTimeout(s string) (time.Duration, error) {
	if len(s) == 0 || len(s) > 8 {
		return 0, fmt.Errorf("%w %q: want 1 to 8 digits", ErrBadTimeout, truncate(s))
	}
	var ms int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w %q: want milliseconds as digits only", ErrBadTimeout, truncate(s))
		}
		ms = ms*10 + int64(c-'0')
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// truncate keeps error messages short when a peer sends a long value.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
