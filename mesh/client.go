package mesh

import (
	"errors"
	"net/http"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/transport"
)

var (
	// ErrNotStarted is returned by requests of a package-level client, and
	// served (as 503) by a package-level Wrap, while no node runs in the
	// process. Such clients and handlers pick up the node once one starts.
	ErrNotStarted = errors.New("mesh: no node started in this process: call mesh.Start first")
	// ErrNoEndpoint is wrapped by request errors when the destination
	// service has no endpoint able to take the request; the message names
	// the service and says why.
	ErrNoEndpoint = engine.ErrNoEndpoint
	// ErrEgressDenied is wrapped by request errors when a host outside the
	// mesh is not on the policy's egress allow-list.
	ErrEgressDenied = transport.ErrEgressDenied
)

// ClientOption customizes a client made by NewClient.
type ClientOption func(*clientOptions)

type clientOptions struct {
	egress http.RoundTripper
}

// WithEgress makes the client send requests for hosts outside the mesh
// through rt instead of the node's own egress transport. The policy's
// egress allow-list still applies.
func WithEgress(rt http.RoundTripper) ClientOption {
	return func(o *clientOptions) { o.egress = rt }
}

// NewClient returns an HTTP client whose requests to http://<service>/…
// go to a live endpoint of service chosen by the load balancer, with the
// policy's timeout for that service. The caller writes plain http://; the
// mesh secures the connection as the policy says. Requests to other mesh
// services work the same way; requests to hosts outside the mesh pass
// through to an ordinary transport unless the policy's egress allow-list
// forbids them.
//
// A request fails with an error wrapping [ErrNoEndpoint] and naming the
// service when no endpoint of it can take the request. The client may be
// shared and kept for the node's lifetime.
func (n *Node) NewClient(service string, opts ...ClientOption) *http.Client {
	return &http.Client{Transport: n.transport(service, opts)}
}

func (n *Node) transport(service string, opts []ClientOption) http.RoundTripper {
	var o clientOptions
	for _, opt := range opts {
		opt(&o)
	}
	return n.http.RoundTripper(service, o.egress)
}

// NewClient is [Node.NewClient] on the process's default node: the first
// node started that has not shut down. The client looks the node up on
// every request, so it may be made before any node starts: its requests
// then fail with [ErrNotStarted] until one does.
func NewClient(service string, opts ...ClientOption) *http.Client {
	return &http.Client{Transport: defaultClient{service: service, opts: opts}}
}

type defaultClient struct {
	service string
	opts    []ClientOption
}

func (c defaultClient) RoundTrip(req *http.Request) (*http.Response, error) {
	n := defaultNode.Load()
	if n == nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, ErrNotStarted
	}
	return n.transport(c.service, c.opts).RoundTrip(req)
}

// Wrap is [Node.Wrap] on the process's default node, looked up on every
// request. While no node runs, the handler answers 503 Service Unavailable
// without calling h: nothing is served outside the mesh's protection.
func Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := defaultNode.Load()
		if n == nil {
			http.Error(w, ErrNotStarted.Error(), http.StatusServiceUnavailable)
			return
		}
		n.serveHTTP.Serve(w, r, h)
	})
}
