package limit

import (
	"net/http"
	"strconv"
	"time"
)

// Wrap returns h behind l: each request is admitted with [Limiter.Acquire]
// under the identity caller returns for it, and refused with
// [WriteRejection] when a limit fires. If caller is nil, every request has
// the identity "", so a per-caller limit acts as a second total limit.
//
// An admitted request is reported to the adaptive limit with the time h
// took, as dropped when h panicked or the request's context was done by
// the time h returned (the client gave up or a deadline passed). Wrap does
// not wrap the ResponseWriter, so Flusher, Hijacker and
// http.ResponseController keep working; it does not see the status h
// writes. Callers that know more (a 503 from a backend, say) should call
// Acquire and Done themselves. A panic in h is not recovered: it is
// reported and then continues up the stack unchanged.
//
// caller is called once per request, from the request's goroutine; it
// must not keep the request.
func (l *Limiter) Wrap(h http.Handler, caller func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id string
		if caller != nil {
			id = caller(r)
		}
		t, rej := l.Acquire(id)
		if rej.Rejected() {
			WriteRejection(w, rej)
			return
		}
		start := l.now()
		finished := false
		defer func() {
			t.Done(l.now().Sub(start), !finished || r.Context().Err() != nil)
		}()
		h.ServeHTTP(w, r)
		finished = true
	})
}

var (
	rateBody        = []byte("too many requests: rate limit exceeded; retry after the delay in Retry-After\n")
	concurrencyBody = []byte("service overloaded: too many requests in flight; retry after the delay in Retry-After\n")
)

const textPlain = "text/plain; charset=utf-8"

// WriteRejection writes the response for a refused request: status
// rej.StatusCode(), a Retry-After header in whole seconds (rounded up, at
// least 1) and a one-line plain-text body. It does nothing when rej is the
// zero Rejection. It costs one small allocation for the header values, and
// one more when Retry-After exceeds 99 seconds.
func WriteRejection(w http.ResponseWriter, rej Rejection) {
	if !rej.Rejected() {
		return
	}
	secs := int((rej.RetryAfter + time.Second - 1) / time.Second)
	vals := &[2]string{textPlain, strconv.Itoa(max(1, secs))}
	h := w.Header()
	h["Content-Type"] = vals[0:1:1]
	h["Retry-After"] = vals[1:2:2]
	code := rej.StatusCode()
	w.WriteHeader(code)
	if code == http.StatusTooManyRequests {
		_, _ = w.Write(rateBody)
	} else {
		_, _ = w.Write(concurrencyBody)
	}
}
