package mesh_test

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// payments is a test implementation of shop.Payments: every answer names
// the backend, and a test can make it slow or failing.
type payments struct {
	shoppb.UnimplementedPaymentsServer
	name    string
	calls   *counter // per backend name, every method
	charges atomic.Int64
	// delay, if set, is how long each unary call takes.
	delay time.Duration
	// fail, if set, is returned by Charge and Quote after counting them.
	fail error
	// onCharge, if set, runs inside Charge with its context.
	onCharge func(ctx context.Context) error
}

func (p *payments) Charge(ctx context.Context, req *shoppb.ChargeRequest) (*shoppb.Receipt, error) {
	p.charges.Add(1)
	p.calls.add(p.name)
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	if p.onCharge != nil {
		if err := p.onCharge(ctx); err != nil {
			return nil, err
		}
	}
	if p.fail != nil {
		return nil, p.fail
	}
	return &shoppb.Receipt{OrderId: req.OrderId, PaymentId: "pay-" + req.OrderId, AmountCents: req.AmountCents, ServedBy: p.name}, nil
}

func (p *payments) Quote(ctx context.Context, req *shoppb.QuoteRequest) (*shoppb.QuoteReply, error) {
	p.calls.add(p.name)
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	if p.fail != nil {
		return nil, p.fail
	}
	return &shoppb.QuoteReply{AmountCents: int64(req.Items) * 100, ServedBy: p.name}, nil
}

func (p *payments) wait(ctx context.Context) error {
	if p.delay == 0 {
		return nil
	}
	t := time.NewTimer(p.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// Watch streams req.Updates statuses, one every 20 ms.
func (p *payments) Watch(req *shoppb.WatchRequest, stream grpc.ServerStreamingServer[shoppb.PaymentStatus]) error {
	p.calls.add(p.name)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := range req.Updates {
		select {
		case <-tick.C:
		case <-stream.Context().Done():
			return status.FromContextError(stream.Context().Err()).Err()
		}
		if err := stream.Send(&shoppb.PaymentStatus{PaymentId: req.PaymentId, State: "pending", Seq: i + 1, ServedBy: p.name}); err != nil {
			return err
		}
	}
	return nil
}

func (p *payments) Batch(stream grpc.ClientStreamingServer[shoppb.ChargeRequest, shoppb.BatchSummary]) error {
	p.calls.add(p.name)
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
	p.calls.add(p.name)
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&shoppb.Receipt{OrderId: req.OrderId, AmountCents: req.AmountCents, ServedBy: p.name}); err != nil {
			return err
		}
	}
}

// grpcBackend is a node serving shop.Payments over gRPC.
type grpcBackend struct {
	*mesh.Node
	Addr string
	impl *payments
	done chan struct{}
	err  error
}

// serveGRPC starts a node for cfg serving impl over gRPC on a free
// loopback port, and returns once its endpoint is in its own catalog
// entry. The test fails if serving ends with an error.
func serveGRPC(t testing.TB, m *meshtest.Mesh, cfg mesh.Config, impl *payments) *grpcBackend {
	t.Helper()
	n := m.Start(cfg)
	s := n.NewGRPCServer()
	shoppb.RegisterPaymentsServer(s, impl)
	b := &grpcBackend{Node: n, impl: impl, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.err = n.ServeGRPC(s, "127.0.0.1:0")
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Shutdown(ctx)
		<-b.done
		if b.err != nil {
			t.Errorf("ServeGRPC %s: %v", b.Addr, b.err)
		}
	})
	meshtest.WaitFor(t, 5*time.Second, "gRPC endpoint published", func() bool {
		b.Addr = grpcEndpoint(n, n.Name(), cfg.Service)
		return b.Addr != ""
	})
	return b
}

// grpcEndpoint returns the gRPC endpoint that node publishes for service
// in n's catalog, or "".
func grpcEndpoint(n *mesh.Node, node, service string) string {
	for _, in := range n.Catalog().Instances(service) {
		if in.Node == node {
			if e, ok := in.EndpointFor(engine.GRPC.String()); ok {
				return e.Addr
			}
		}
	}
	return ""
}

// waitGRPCEndpoints waits until n's catalog lists exactly want ready
// instances of service serving gRPC.
func waitGRPCEndpoints(t testing.TB, n *mesh.Node, service string, want int) {
	t.Helper()
	meshtest.WaitFor(t, 10*time.Second, fmt.Sprintf("%d gRPC endpoints of %s", want, service), func() bool {
		got := 0
		for _, in := range meshtest.ReadyInstances(n, service) {
			if _, ok := in.EndpointFor(engine.GRPC.String()); ok {
				got++
			}
		}
		return got == want
	})
}

// dial returns a payments client over a mesh channel, closed at cleanup.
func dial(t testing.TB, n *mesh.Node, service string) shoppb.PaymentsClient {
	t.Helper()
	cc, err := n.DialGRPC(context.Background(), service)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return shoppb.NewPaymentsClient(cc)
}

// code returns err's gRPC code.
func code(err error) codes.Code { return status.Code(err) }
