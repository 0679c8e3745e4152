// Package limit protects a service instance from more traffic than it can
// serve: token-bucket rate limits per caller and in total, a fixed bound on
// requests in flight, and an adaptive concurrency limit learned from
// latency.
//
// A [Limiter] is built from a [Config], the inbound part of a service's
// policy. Its hot path is one call, [Limiter.Acquire], which either admits
// a request, returning a [Ticket] whose [Ticket.Done] reports the
// request's latency when it ends, or refuses it with a [Rejection] saying
// which limit fired, the HTTP status to answer (429 for a rate limit, 503
// for a concurrency limit) and how long the caller should wait.
// [Limiter.Wrap] is the same as net/http middleware. The limits in force
// are an immutable snapshot that [Limiter.Update] swaps atomically when
// the policy changes, keeping callers' tokens and the learned limit.
//
// Rate limits use golang.org/x/time/rate buckets. Per-caller buckets live
// in a table bounded by [WithMaxCallers] that forgets the least recently
// seen caller first, so a client rotating identities cannot grow memory.
//
// Adaptive concurrency follows Netflix's concurrency-limits and Envoy's
// adaptive concurrency filter. The default algorithm, [Gradient], keeps
// the limit about √limit above the concurrency at which latency starts to
// rise; [AIMD] grows it additively and cuts it by a tenth on drops or slow
// windows. Time comes from an injectable clock ([WithClock]) so tests and
// simulations never sleep.
//
// The transport wires a Limiter in front of a node's inbound handler; this
// package imports nothing of the mesh's.
package limit
