// Package rpc is the gRPC side of Weft's transport: it gives gRPC channels
// and servers what package transport gives HTTP clients and servers, from
// the same policy and with the same meaning.
//
// Client side, a [Dialer] makes channels ([grpc.ClientConn]) to mesh
// services, each a thin adapter over the node's client engine
// (internal/engine), which HTTP clients share: one retry budget, one set of
// breakers and one outlier detector per destination. Each channel has:
//
//   - its own resolver, fed from the engine's snapshots of the service (no
//     global resolver scheme is registered): it lists the service's ready
//     instances that publish a "grpc" endpoint;
//   - the Weft balancer, registered under [BalancerName], built on grpc-go's
//     endpoint API: an endpointsharding balancer with one pick_first child
//     per endpoint, so that every member gets its own connection as soon
//     as it is ready, and a picker that lets the engine choose among the
//     READY children (the policy's balancer, the route's subset, breakers
//     and outlier ejection); a stream's outcome reaches the engine's
//     verdict on its endpoint when the stream ends;
//   - transport credentials that follow the service's mTLS mode and check
//     that the server presents the service's SPIFFE ID;
//   - interceptors that run every call through the engine: routes (matched
//     on the full method name and the outgoing metadata, as an HTTP
//     request with method POST, path = full method name and headers =
//     metadata), timeouts, faults, mirrors (of unary calls), retries and
//     hedges with HTTP's safety rules, the retry budget and the hop
//     marker. grpc-go's own retries are disabled on these channels so that
//     the two never stack. A stream is retried only while it is being
//     opened, never after its first message, and the timeout bounds
//     opening it: the stream then lives as long as the caller's context.
//     The engine's observer sees every call and each of its attempts as
//     it sees HTTP calls: each attempt carries trace context of its own in
//     its outgoing metadata, and a stream's call ends when the stream
//     does. Statuses are gRPC codes.
//
// Server side, [ServerOptions] returns the credentials and interceptors of
// a mesh server: mutual TLS (and plaintext too in permissive mode), the
// caller's verified identity in the handler's context, and the deadline
// and retry mark that callers send. Every call but health checks passes
// the node's inbound gate ([Config.Inbound], internal/inbound), the one
// HTTP's middleware passes requests through: authorization by full method
// name, end-user authentication, external authorization, the service's
// inbound limits, the counters and the observer, which reads the caller's
// trace context from the incoming metadata.
//
// Both sides are adapters over the node's two protocol-neutral cores, so
// package mesh makes them: [NewDialer] over its client engine,
// [ServerOptions] over its gate.
//
// Errors use gRPC's codes: Unavailable when a service has no endpoint
// able to take a call, PermissionDenied when authorization refuses it,
// ResourceExhausted when a rate limit does (Unavailable for a concurrency
// limit, as HTTP answers 503), DeadlineExceeded when time runs out.
package rpc
