package security

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

type peerKey struct{}

type connPeerKey struct{}

// connPeer holds the verified identity of one connection's peer, found
// on its first request and read by every later one.
type connPeer struct{ id atomic.Pointer[spiffeid.ID] }

// WithPeer returns a copy of ctx that carries the verified identity of the
// caller whose request ctx belongs to.
func WithPeer(ctx context.Context, id spiffeid.ID) context.Context {
	return context.WithValue(ctx, peerKey{}, id)
}

// ConnContext prepares the context of a server connection to carry its
// peer's identity, so that it is worked out once per connection rather
// than on every request. It has the signature of http.Server.ConnContext.
func ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connPeerKey{}, new(connPeer))
}

// SetConnPeer records id as the peer of the connection ctx belongs to. It
// returns false when ctx was not prepared by [ConnContext]; the caller
// then carries id with [WithPeer].
func SetConnPeer(ctx context.Context, id spiffeid.ID) bool {
	c, ok := ctx.Value(connPeerKey{}).(*connPeer)
	if ok {
		c.id.Store(&id)
	}
	return ok
}

// PeerFromContext returns the verified identity of the caller, set by the
// server's mesh middleware; ok is false for a caller that presented none
// (plaintext in permissive mode, or mTLS disabled).
func PeerFromContext(ctx context.Context) (id spiffeid.ID, ok bool) {
	if id, ok = ctx.Value(peerKey{}).(spiffeid.ID); ok {
		return id, !id.IsZero()
	}
	if c, found := ctx.Value(connPeerKey{}).(*connPeer); found {
		if p := c.id.Load(); p != nil {
			return *p, !p.IsZero()
		}
	}
	return spiffeid.ID{}, false
}
