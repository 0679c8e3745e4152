package transport

import (
	"net/http"
	"sync/atomic"
)

// Inbound is the server side of a node: the middleware every inbound
// request passes through. Its zero value is ready to use.
type Inbound struct {
	draining atomic.Bool
	inFlight atomic.Int64
	served   atomic.Uint64
}

// Wrap returns h behind the node's inbound middleware.
//
// While the node drains, responses carry "Connection: close", so that
// keep-alive clients outside the mesh reconnect elsewhere instead of
// reusing a connection to a server that is about to stop. Wrap does not
// wrap the ResponseWriter: Flusher, Hijacker and ResponseController keep
// working. A panic in h is not recovered here; net/http handles it as it
// would without Weft.
func (in *Inbound) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { in.Serve(w, r, h) })
}

// Serve passes one request through the middleware to h; it is Wrap for
// callers that pick h per request.
func (in *Inbound) Serve(w http.ResponseWriter, r *http.Request, h http.Handler) {
	in.inFlight.Add(1)
	defer in.inFlight.Add(-1)
	in.served.Add(1)
	if in.draining.Load() {
		w.Header().Set("Connection", "close")
	}
	h.ServeHTTP(w, r)
}

// SetDraining switches draining behaviour on or off.
func (in *Inbound) SetDraining(on bool) { in.draining.Store(on) }

// InFlight returns the number of requests being served.
func (in *Inbound) InFlight() int64 { return in.inFlight.Load() }

// Served returns the number of requests received since the node started.
func (in *Inbound) Served() uint64 { return in.served.Load() }
