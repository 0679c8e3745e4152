package security

import (
	"context"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

type peerKey struct{}

// WithPeer returns a copy of ctx that carries the verified identity of the
// caller whose request ctx belongs to.
func WithPeer(ctx context.Context, id spiffeid.ID) context.Context {
	return context.WithValue(ctx, peerKey{}, id)
}

// PeerFromContext returns the verified identity of the caller, set by the
// server's mesh middleware; ok is false for a caller that presented none
// (plaintext in permissive mode, or mTLS disabled).
func PeerFromContext(ctx context.Context) (id spiffeid.ID, ok bool) {
	id, ok = ctx.Value(peerKey{}).(spiffeid.ID)
	return id, ok && !id.IsZero()
}
