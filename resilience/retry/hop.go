package retry

import (
	"context"
	"net/http"
)

// OwnerHeader marks a request whose sender retries it, so that the hops
// below do not retry as well. Its value is the name of the service whose
// client owns the retries, for diagnosis; any non-empty value counts.
//
// A Weft client sets it on every try of a call it may retry (Attempts > 1)
// and on every request made with a [NoRetry] context. A Weft server that
// receives it calls [WithNoRetry] on the request's context, so that calls
// the handler makes with that context try once and forward the mark. An
// edge server facing untrusted clients may strip it.
const OwnerHeader = "Weft-Retry-Owner"

type noRetryKey struct{}

// WithNoRetry returns a copy of ctx that tells Weft clients to try each
// request once: a caller further up the chain owns the retries.
func WithNoRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, noRetryKey{}, true)
}

// NoRetry reports whether ctx was marked by [WithNoRetry].
func NoRetry(ctx context.Context) bool {
	v, _ := ctx.Value(noRetryKey{}).(bool)
	return v
}

// FromHeader returns ctx marked with [WithNoRetry] if hdr carries
// [OwnerHeader], and ctx itself otherwise. Servers call it on each
// incoming request.
func FromHeader(ctx context.Context, hdr http.Header) context.Context {
	if hdr.Get(OwnerHeader) == "" || NoRetry(ctx) {
		return ctx
	}
	return WithNoRetry(ctx)
}
