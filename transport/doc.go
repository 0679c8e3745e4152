// Package transport is the HTTP plumbing of a Weft node: the client-side
// [http.RoundTripper] that turns http://<service>/ into a request to a
// live endpoint, and the server-side middleware that every inbound request
// passes through.
//
// The client side is layered the net/http way, one concern per step:
//
//	Client.RoundTrip  route: mesh service or egress host?
//	  → destination   the service's policy, route table and pickers
//	  → route         match, timeout, fault injection, subset split, mirror
//	  → call          retries within the budget, or hedges; the deadline and
//	                  hop marker travel as headers
//	  → try           pick an endpoint its breaker lets through, send, report
//	                  the outcome to the breaker, outlier detector and latency
//	  → base          a plain *http.Transport with pooled connections
//
// A [Router] owns the route table: an immutable map from service name to
// destination, rebuilt whenever the catalog or the policy changes and
// swapped atomically, so a request never takes a lock or looks anything up
// beyond one map read.
//
// The server side is [Inbound], an http.Handler middleware that applies
// the service's inbound limits, turns the caller's deadline and hop marker
// into the request context, counts requests and, while the node drains,
// asks keep-alive clients to close their connections.
package transport
