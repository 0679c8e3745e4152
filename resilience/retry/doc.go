// Package retry holds the mechanisms behind Weft's client-side retries and
// hedged requests: which failures may be tried again, how long to wait
// between tries, how many retries a client may add to its traffic, and the
// two headers that keep retries and deadlines coherent across hops.
//
// The package makes decisions; it does not send requests. The transport's
// retry layer runs the loop and asks this package at each step:
//
//	budget.Deposit() // once per original request
//	for try := 1; ; try++ {
//		outcome := send(ctx, req) // with a per-try bound of cfg.PerTryTimeout
//		if try == cfg.Attempts || retry.NoRetry(ctx) ||
//			!retry.Retryable(cfg, req.Method, req.Header, routeIdempotent, outcome) ||
//			!budget.TryWithdraw() {
//			return outcome
//		}
//		wait, ok := cfg.Backoff.Pause(try, resp.Header.Get("Retry-After"), now(), nil)
//		if !ok || wait >= timeLeft(ctx) {
//			return outcome
//		}
//		// wait, then rewind the body with req.GetBody and go round again
//	}
//
// # Which requests are retried
//
// [Retryable] encodes the one rule that matters most: a request is sent a
// second time only when doing so cannot apply it twice. An [Outcome] that
// proves the server never processed the request (the connection could not
// be made, or the server refused the stream) may be retried whatever the
// method. Any other failure — a reset after the request was sent, a per-try
// timeout, a 5xx — is retried only for idempotent methods, routes marked
// idempotent, and requests that carry an Idempotency-Key header. A POST is
// never sent twice by default. In every case the failure must be one of the
// conditions listed in [Config].On.
//
// # Retry budget
//
// Retries multiply load exactly when a service is least able to take it.
// A [Budget] caps them the way Finagle's RetryBudget does: every original
// request deposits Ratio of a token, every retry or hedge withdraws a whole
// one, deposits expire after TTL, and MinPerSecond retries per second are
// allowed whatever the traffic, so that a client with little traffic can
// still retry. Over any run of whole TTL windows, retries never exceed
// Ratio × requests + MinPerSecond × seconds.
//
// # Hops
//
// When every hop of a call chain retries, the tries multiply: three hops
// of three attempts make 27 requests to the last service. The outermost
// Weft client that will retry marks its requests with [OwnerHeader]; a Weft
// server that receives the mark exposes it with [WithNoRetry], and Weft
// clients called with such a context try once and forward the mark.
//
// Deadlines travel in [TimeoutHeader] as the remaining time in
// milliseconds, relative rather than absolute so that clock skew between
// hosts does not matter (the scheme of gRPC's grpc-timeout); see
// [EncodeTimeout] and [ParseTimeout].
//
// # Hedging
//
// A [HedgeConfig] sends extra copies of a slow idempotent request after a
// delay and keeps the first answer. Hedges follow the same idempotency rule
// as retries ([Idempotent]) and withdraw from the same [Budget].
//
// Every function here is pure or guarded by its own lock, starts no
// goroutine and never blocks on I/O; times come from injected clocks so that
// callers and tests control them.
package retry
