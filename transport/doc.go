// Package transport is the HTTP side of a Weft node: the client-side
// [http.RoundTripper] that turns http://<service>/ into a call of the
// node's client engine, and the server-side middleware that every inbound
// request passes through.
//
// Client side, [Clients] is a thin adapter over the engine
// (internal/engine), which gRPC channels share:
//
//	RoundTrip         mesh service or egress host?
//	  → engine        the destination's snapshot: route match, timeout,
//	                  fault injection, subset split, mirror decision
//	  → Run           retries within the budget, or hedges; the deadline
//	                  and hop marker travel as headers
//	  → Attempt       send to the endpoint the engine picked, classify the
//	                  outcome, hand it to the engine's verdict
//	  → connections   HTTP/1.1 through Weft's own transport, which sends
//	                  from the caller's goroutine on kept-alive
//	                  connections (net/http's for upgrades and streamed
//	                  bodies), or HTTP/2 through net/http; in plaintext,
//	                  or through the destination's own mutual-TLS pool
//	                  that checks the service's SPIFFE ID
//
// Server side, [Inbound] is an http.Handler middleware over the node's
// inbound gate (internal/inbound), which gRPC servers (package
// transport/rpc) share: it identifies the caller, applies authorization
// and the service's inbound limits, turns the caller's deadline and hop
// marker into the request context, counts requests and, while the node
// drains, asks keep-alive clients to close their connections.
//
// Both sides are adapters over the node's two protocol-neutral cores, so
// package mesh makes them: [NewClients] over its client engine,
// [NewInbound] over its gate.
package transport
