package mesh_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
	"github.com/weftmesh/weft/resilience/retry"
)

// observed is what a handler saw of its call's deadline and retry mark.
type observed struct {
	left    atomic.Int64 // time.Duration until the deadline; -1 without one
	noRetry atomic.Bool
	header  atomic.Value // the Weft-Timeout header, for HTTP handlers
}

func (o *observed) record(ctx context.Context) {
	o.left.Store(-1)
	if d, ok := ctx.Deadline(); ok {
		o.left.Store(int64(time.Until(d)))
	}
	o.noRetry.Store(retry.NoRetry(ctx))
}

func TestGRPCDeadlinePropagatesFromHTTPAndToHTTP(t *testing.T) {
	m := meshtest.New(t)
	var c counter

	// ledger (HTTP) ← payments (gRPC) ← frontend (HTTP) ← client
	var atLedger observed
	m.Serve(mesh.Config{Service: "ledger"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atLedger.record(r.Context())
		atLedger.header.Store(r.Header.Get(retry.TimeoutHeader))
		io.WriteString(w, "ok")
	}))
	var atPayments observed
	var paymentsNode atomic.Pointer[mesh.Node]
	p := &payments{name: "b0", calls: &c}
	p.onCharge = func(ctx context.Context) error {
		atPayments.record(ctx)
		// The handler's context carries the call's deadline to HTTP.
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://ledger/entries", nil)
		resp, err := paymentsNode.Load().NewClient("ledger").Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	pb := serveGRPC(t, m, mesh.Config{Service: "payments"}, p)
	paymentsNode.Store(pb.Node)
	meshtest.WaitEndpoints(t, pb.Node, "ledger", 1)

	var frontendNode atomic.Pointer[mesh.Node]
	fe := m.Serve(mesh.Config{Service: "frontend"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cc, err := frontendNode.Load().DialGRPC(r.Context(), "payments")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer cc.Close()
		// The request's context carries the HTTP caller's deadline to gRPC.
		if _, err := shoppb.NewPaymentsClient(cc).Charge(r.Context(), &shoppb.ChargeRequest{}); err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		io.WriteString(w, "charged")
	}))
	frontendNode.Store(fe.Node)
	waitGRPCEndpoints(t, fe.Node, "payments", 1)

	client := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, client, "frontend", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://frontend/checkout", nil)
	resp, err := client.NewClient("frontend").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("frontend answered %d: %s", resp.StatusCode, body)
	}

	// HTTP → gRPC: the Weft-Timeout the frontend got became the gRPC
	// call's deadline.
	left := time.Duration(atPayments.left.Load())
	if left <= 0 || left > 800*time.Millisecond {
		t.Errorf("payments had %v left; want the client's 800ms deadline, less the time spent", left)
	}
	// gRPC → HTTP: the payments handler's deadline travelled on as
	// Weft-Timeout.
	hdr, _ := atLedger.header.Load().(string)
	ms, err := retry.ParseTimeout(hdr)
	if err != nil || ms <= 0 || ms > left+time.Millisecond { // the header rounds up to whole ms
		t.Errorf("ledger got Weft-Timeout %q (%v), want at most payments' %v", hdr, err, left)
	}
	if l := time.Duration(atLedger.left.Load()); l <= 0 || l > ms {
		t.Errorf("ledger's handler had %v left, want at most %v", l, ms)
	}
	// The client retries (attempts 2 by default): every hop below it
	// tries once, whatever the protocol.
	if !atPayments.noRetry.Load() || !atLedger.noRetry.Load() {
		t.Errorf("retry marks below the retrying client: payments %v, ledger %v; want both set", atPayments.noRetry.Load(), atLedger.noRetry.Load())
	}
	t.Logf("deadline left: payments %v, ledger header %s ms", left.Round(time.Millisecond), hdr)
}

func TestGRPCErrorCodes(t *testing.T) {
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, `version: 1
mesh: {name: test}
services:
  slow: {timeout: 100ms}
  payments:
    inbound: {rateLimit: {perCaller: {rps: 0.01, burst: 2}}}
`)
	var c counter
	serveGRPC(t, m, mesh.Config{Service: "payments"}, &payments{name: "b0", calls: &c})
	serveGRPC(t, m, mesh.Config{Service: "slow"}, &payments{name: "slow", calls: &c, delay: time.Second})
	client := m.Start(mesh.Config{Service: "checkout"})
	waitGRPCEndpoints(t, client, "payments", 1)
	waitGRPCEndpoints(t, client, "slow", 1)
	ctx := context.Background()

	_, err := dial(t, client, "nobody").Charge(ctx, &shoppb.ChargeRequest{})
	if code(err) != codes.Unavailable || !strings.Contains(err.Error(), `"nobody"`) {
		t.Errorf("a service nobody serves: %v, want Unavailable naming it", err)
	}

	start := time.Now()
	_, err = dial(t, client, "slow").Charge(ctx, &shoppb.ChargeRequest{})
	if code(err) != codes.DeadlineExceeded {
		t.Errorf("a call past the policy's 100ms timeout: %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 900*time.Millisecond {
		t.Errorf("the timed-out call took %v", took)
	}

	pc := dial(t, client, "payments")
	for i := range 2 {
		if _, err := pc.Charge(ctx, &shoppb.ChargeRequest{OrderId: fmt.Sprint(i)}); err != nil {
			t.Fatalf("charge %d within the burst: %v", i, err)
		}
	}
	_, err = pc.Charge(ctx, &shoppb.ChargeRequest{})
	if code(err) != codes.ResourceExhausted {
		t.Errorf("a charge past the rate limit: %v, want ResourceExhausted", err)
	}
	if got := c.get("b0"); got != 2 {
		t.Errorf("%d charges reached the handler, want 2", got)
	}
}
