// Package transport is the HTTP plumbing of a Weft node: the client-side
// [http.RoundTripper] that turns http://<service>/ into a request to a
// live endpoint, and the server-side middleware that every inbound request
// passes through.
//
// The client side is layered the net/http way, one concern per step:
//
//	Client.RoundTrip  route: mesh service or egress host?
//	  → destination   the service's policy (timeout) and picker
//	  → attempt       pick an endpoint, send, retry once on another
//	                  endpoint if the connection was never made
//	  → base          a plain *http.Transport with pooled connections
//
// A [Router] owns the route table: an immutable map from service name to
// destination, rebuilt whenever the catalog or the policy changes and
// swapped atomically, so a request never takes a lock or looks anything up
// beyond one map read.
//
// The server side is [Inbound], an http.Handler middleware that counts
// requests and, while the node drains, asks keep-alive clients to close
// their connections.
package transport
