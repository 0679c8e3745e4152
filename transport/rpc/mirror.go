package rpc

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// maxMirrors bounds the mirrored calls in flight from one dialer, as for
// HTTP: when the mirror subset is slow, copies are dropped rather than
// piling up.
const maxMirrors = 64

// mirrorKey marks the context of a mirrored copy with the subset it goes
// to: the copy is sent once, to that subset, and not mirrored again.
type mirrorKey struct{}

// mirrorHeader marks mirrored copies for their servers, as Weft-Mirror
// does for HTTP.
const mirrorHeader = "weft-mirror"

// mirrors tracks the mirrored calls in flight, so that closing the dialer
// cancels and waits for them.
type mirrors struct {
	mu      sync.Mutex
	closed  bool
	next    uint64
	cancels map[uint64]context.CancelFunc
	wg      sync.WaitGroup
}

// mirror sends a copy of a unary call to subset, in the background: its
// reply is discarded and it never slows the real call. Only protobuf
// requests are copied (the caller may reuse its request once the call
// returns).
func (c *call) mirror(ctx context.Context, d *Dialer, subset string, req any, reply proto.Message, cc *grpc.ClientConn) {
	m, ok := req.(proto.Message)
	if !ok {
		return
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	done, ok := d.mirrors.add(cancel)
	if !ok {
		cancel()
		return
	}
	copyReq, copyReply := proto.Clone(m), reply.ProtoReflect().New().Interface()
	mctx = metadata.AppendToOutgoingContext(context.WithValue(mctx, mirrorKey{}, subset), mirrorHeader, "1")
	go func() {
		defer done()
		_ = cc.Invoke(mctx, c.method, copyReq, copyReply)
	}()
}

func (m *mirrors) add(cancel context.CancelFunc) (done func(), ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || len(m.cancels) >= maxMirrors {
		return nil, false
	}
	if m.cancels == nil {
		m.cancels = make(map[uint64]context.CancelFunc)
	}
	id := m.next
	m.next++
	m.cancels[id] = cancel
	m.wg.Add(1)
	return func() {
		m.mu.Lock()
		delete(m.cancels, id)
		m.mu.Unlock()
		cancel()
		m.wg.Done()
	}, true
}

// close cancels the mirrored calls in flight, waits for them, and refuses
// new ones.
func (m *mirrors) close() {
	m.mu.Lock()
	m.closed = true
	for _, cancel := range m.cancels {
		cancel()
	}
	m.mu.Unlock()
	m.wg.Wait()
}
