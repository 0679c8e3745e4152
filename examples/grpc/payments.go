package main

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/mesh"
)

// payments implements shop.Payments; every answer names the instance.
type payments struct {
	shoppb.UnimplementedPaymentsServer
	name    string
	charges atomic.Int64
	next    atomic.Int64
}

func (p *payments) Charge(ctx context.Context, req *shoppb.ChargeRequest) (*shoppb.Receipt, error) {
	if req.AmountCents <= 0 {
		return nil, status.Error(codes.InvalidArgument, "amount_cents must be positive")
	}
	// The caller's verified identity, from the mesh's mutual TLS.
	if _, ok := mesh.PeerID(ctx); !ok {
		return nil, status.Error(codes.Unauthenticated, "no verified caller")
	}
	p.charges.Add(1)
	return &shoppb.Receipt{
		OrderId:     req.OrderId,
		PaymentId:   fmt.Sprintf("%s-%d", p.name, p.next.Add(1)),
		AmountCents: req.AmountCents,
		ServedBy:    p.name,
	}, nil
}

func (p *payments) Quote(_ context.Context, req *shoppb.QuoteRequest) (*shoppb.QuoteReply, error) {
	return &shoppb.QuoteReply{AmountCents: 250 * int64(max(req.Items, 1)), ServedBy: p.name}, nil
}

// Watch sends a status change every 100 ms.
func (p *payments) Watch(req *shoppb.WatchRequest, stream grpc.ServerStreamingServer[shoppb.PaymentStatus]) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	states := []string{"authorized", "captured", "settled"}
	for i := range req.Updates {
		select {
		case <-tick.C:
		case <-stream.Context().Done():
			return status.FromContextError(stream.Context().Err()).Err()
		}
		st := &shoppb.PaymentStatus{PaymentId: req.PaymentId, State: states[min(int(i), len(states)-1)], Seq: i + 1, ServedBy: p.name}
		if err := stream.Send(st); err != nil {
			return err
		}
	}
	return nil
}

func (p *payments) Batch(stream grpc.ClientStreamingServer[shoppb.ChargeRequest, shoppb.BatchSummary]) error {
	sum := &shoppb.BatchSummary{ServedBy: p.name}
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(sum)
		}
		if err != nil {
			return err
		}
		sum.Count++
		sum.TotalCents += req.AmountCents
	}
}

func (p *payments) Ledger(stream grpc.BidiStreamingServer[shoppb.ChargeRequest, shoppb.Receipt]) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		r := &shoppb.Receipt{OrderId: req.OrderId, PaymentId: fmt.Sprintf("%s-%d", p.name, p.next.Add(1)), AmountCents: req.AmountCents, ServedBy: p.name}
		if err := stream.Send(r); err != nil {
			return err
		}
	}
}
