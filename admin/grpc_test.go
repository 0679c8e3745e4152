package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

type ledger struct {
	shoppb.UnimplementedPaymentsServer
}

// Charge fails for orders whose ID starts with "bad".
func (ledger) Charge(_ context.Context, req *shoppb.ChargeRequest) (*shoppb.Receipt, error) {
	if strings.HasPrefix(req.OrderId, "bad") {
		return nil, status.Error(codes.Internal, "ledger is broken")
	}
	return &shoppb.Receipt{OrderId: req.OrderId}, nil
}

// gRPC calls make edges and tap events as HTTP requests do.
func TestGRPCEdgesAndTap(t *testing.T) {
	m := meshtest.New(t)
	srv := m.Start(mesh.Config{Service: "ledger", AdminAddr: "127.0.0.1:0"})
	s := srv.NewGRPCServer()
	shoppb.RegisterPaymentsServer(s, ledger{})
	served := make(chan error, 1)
	go func() { served <- srv.ServeGRPC(s, "127.0.0.1:0") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Error(err)
		}
	})
	client := m.Start(mesh.Config{Service: "teller", AdminAddr: "127.0.0.1:0"})
	meshtest.WaitFor(t, 10*time.Second, "ledger ready", func() bool { return len(meshtest.ReadyInstances(client, "ledger")) == 1 })
	cc, err := client.DialGRPC(context.Background(), "ledger")
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	pay := shoppb.NewPaymentsClient(cc)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events := sse(ctx, t, nil, "http://"+srv.AdminAddr()+"/weft/tap?protocol=grpc&status=failed")
	<-events // hello
	for _, id := range []string{"o-1", "o-2", "o-3", "bad-1"} {
		pay.Charge(ctx, &shoppb.ChargeRequest{OrderId: id})
	}
	var ev [2]string
	for ev[0] != "message" {
		select {
		case ev = <-events:
		case <-ctx.Done():
			t.Fatal("no tap event for the failed gRPC call")
		}
	}
	var e struct {
		Direction, Protocol, Source, Method string
		Status                              int
		Failed                              bool
	}
	json.Unmarshal([]byte(ev[1]), &e)
	if e.Direction != "in" || e.Protocol != "grpc" || e.Source != "teller" || e.Method != "/shop.Payments/Charge" || e.Status != int(codes.Internal) || !e.Failed {
		t.Errorf("tap event %s", ev[1])
	}
	v := meshView(t, nil, "http://"+client.AdminAddr())
	x := edge(v, "teller", "ledger")
	if !x.found || x.n != 4 || x.rate != 0.75 {
		t.Errorf("teller → ledger %+v, want 4 gRPC calls, 3 good", x)
	}
	for _, e := range v.Edges {
		if e.Source == "teller" && (len(e.Protocols) != 1 || e.Protocols[0] != "grpc") {
			t.Errorf("protocols %v", e.Protocols)
		}
	}
}
