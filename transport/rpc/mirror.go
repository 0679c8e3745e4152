package rpc

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/weftmesh/weft/internal/engine"
)

// mirrorKey marks the context of a mirrored copy with the subset it goes
// to: the copy is sent once, to that subset, and not mirrored again.
type mirrorKey struct{}

// mirrorHeader marks mirrored copies for their servers, as Weft-Mirror
// does for HTTP.
const mirrorHeader = "weft-mirror"

// mirror sends a copy of a unary call to subset, in the background: its
// reply is discarded and it never slows the real call. Only protobuf
// requests are copied (the caller may reuse its request once the call
// returns).
func (ch *channel) mirror(ctx context.Context, c *engine.Call, method, subset string, req any, reply proto.Message, cc *grpc.ClientConn) {
	m, ok := req.(proto.Message)
	if !ok {
		return
	}
	mctx, done, ok := c.StartMirror(ctx, c.Timeout())
	if !ok {
		return
	}
	copyReq, copyReply := proto.Clone(m), reply.ProtoReflect().New().Interface()
	mctx = metadata.AppendToOutgoingContext(context.WithValue(mctx, mirrorKey{}, subset), mirrorHeader, "1")
	go func() {
		defer done()
		_ = cc.Invoke(mctx, method, copyReq, copyReply)
	}()
}
