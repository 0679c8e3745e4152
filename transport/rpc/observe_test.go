package rpc_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/internal/inbound"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/transport/observe"
	"github.com/weftmesh/weft/transport/route"
	"github.com/weftmesh/weft/transport/rpc"
)

// callRecord is what a recorder keeps of an ended call.
type callRecord struct {
	Protocol, Source, Destination, Method, Route, Endpoint string
	Attempts, Status                                       int
	Err                                                    error
}

// recorder is a call and inbound observer that writes "attempt-N" as each
// attempt's trace context and keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	calls    []callRecord
	attempts []observe.AttemptInfo
	starts   int
	inbound  []observe.InboundInfo
	carried  []string // the traceparent each inbound call arrived with
}

func (r *recorder) StartCall(ctx context.Context, c *observe.CallInfo) context.Context {
	r.mu.Lock()
	r.starts++
	r.mu.Unlock()
	return ctx
}

func (r *recorder) StartAttempt(ctx context.Context, c *observe.CallInfo, a *observe.AttemptInfo) context.Context {
	a.Carrier.Set("Traceparent", fmt.Sprintf("attempt-%d", a.N))
	return ctx
}

func (r *recorder) EndAttempt(ctx context.Context, c *observe.CallInfo, a *observe.AttemptInfo) {
	r.mu.Lock()
	r.attempts = append(r.attempts, *a)
	r.mu.Unlock()
}

func (r *recorder) EndCall(ctx context.Context, c *observe.CallInfo) {
	r.mu.Lock()
	r.calls = append(r.calls, callRecord{Protocol: c.Protocol, Source: c.Source, Destination: c.Destination,
		Method: c.Method, Route: c.Route, Attempts: c.Attempts, Status: c.Status, Err: c.Err, Endpoint: c.Endpoint})
	r.mu.Unlock()
}

func (r *recorder) StartInbound(ctx context.Context, in *observe.InboundInfo) context.Context {
	r.mu.Lock()
	r.carried = append(r.carried, in.Carrier.Get("traceparent"))
	r.mu.Unlock()
	return ctx
}

func (r *recorder) EndInbound(ctx context.Context, in *observe.InboundInfo) {
	r.mu.Lock()
	r.inbound = append(r.inbound, *in)
	r.mu.Unlock()
}

func (r *recorder) snapshot() ([]callRecord, []observe.AttemptInfo, []observe.InboundInfo, []string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]callRecord(nil), r.calls...), append([]observe.AttemptInfo(nil), r.attempts...),
		append([]observe.InboundInfo(nil), r.inbound...), append([]string(nil), r.carried...), r.starts
}

// TestObservedRetry sends calls, some of which a failing backend answers
// Unavailable and the client retries on the good one, and checks what the
// observers on both sides are told: one call, one attempt per try with
// its own trace context, the answer's endpoint, and the server's view.
func TestObservedRetry(t *testing.T) {
	rec := &recorder{}
	in := &inbound.Gate{}
	in.SetObserver(rec)
	cat := newCatalog()
	bad := serve(t, rpc.Config{}, &payments{name: "bad", fail: status.Error(codes.Unavailable, "down")})
	good := serve(t, rpc.Config{Inbound: in}, &payments{name: "good"})
	cat.put(instance("n1", "payments", bad, ""))
	cat.put(instance("n2", "payments", good, ""))
	d := dialer(t, cat, clientConfig{Service: "checkout", Observer: func() observe.CallObserver { return rec }},
		routing(engine.DestinationConfig{LoadBalancer: "round_robin", Retries: &retry.Config{Attempts: 3}},
			map[string]route.Config{"payments": {Routes: []route.Route{{Name: "charge", Match: route.Match{Path: "/shop.Payments/Charge"}, Idempotent: true}}}}))
	pc := dial(t, d, "payments")

	// Round robin sends some calls to the failing backend first, once it
	// is connected.
	retried := func() bool {
		_, attempts, _, _, _ := rec.snapshot()
		for _, a := range attempts {
			if a.N == 2 {
				return true
			}
		}
		return false
	}
	n := 0
	for ; n < 50 && !retried(); n++ {
		if _, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{OrderId: fmt.Sprint(n)}); err != nil {
			t.Fatal(err)
		}
	}
	if !retried() {
		t.Fatal("no call was retried: the test did not exercise the retry")
	}
	calls, attempts, inbound, carried, starts := rec.snapshot()
	if starts != n || len(calls) != n {
		t.Fatalf("%d calls started, %d ended; want %d", starts, len(calls), n)
	}
	total := 0
	for _, c := range calls {
		total += c.Attempts
		if c.Protocol != observe.ProtocolGRPC || c.Source != "checkout" || c.Destination != "payments" ||
			c.Method != "/shop.Payments/Charge" || c.Route != "charge" || c.Status != int(codes.OK) || c.Err != nil || c.Endpoint != good {
			t.Errorf("call %+v", c)
		}
	}
	if total != len(attempts) || total <= n {
		t.Fatalf("%d attempts observed, calls counted %d; want more than %d", len(attempts), total, n)
	}
	for _, a := range attempts {
		switch a.Endpoint {
		case bad:
			if a.Outcome != "error" || a.Status != int(codes.Unavailable) || a.N != 1 {
				t.Errorf("failed attempt %+v", a)
			}
		case good:
			if a.Outcome != "ok" || a.Err != nil || a.Status != 0 {
				t.Errorf("good attempt %+v", a)
			}
		default:
			t.Errorf("attempt to %q", a.Endpoint)
		}
	}
	// The good server saw each call with the trace context of the attempt
	// that reached it: a retry carries its own.
	if len(inbound) != n || len(carried) != n {
		t.Fatalf("server observed %d calls, want %d", len(inbound), n)
	}
	want := map[string]int{}
	for _, a := range attempts {
		if a.Endpoint == good {
			want[fmt.Sprintf("attempt-%d", a.N)]++
		}
	}
	got := map[string]int{}
	for i, tp := range carried {
		got[tp]++
		if inbound[i].Source != "checkout" || inbound[i].Protocol != observe.ProtocolGRPC || inbound[i].Method != "/shop.Payments/Charge" || inbound[i].Status != 0 {
			t.Errorf("server call %+v", inbound[i])
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || got["attempt-2"] == 0 {
		t.Errorf("the server saw trace contexts %v, the good attempts wrote %v", got, want)
	}

	// The dialer reports its destinations as HTTP clients do.
	ds := d.Destinations()
	if len(ds) != 1 || ds[0].Service != "payments" || ds[0].Ready != 2 || len(ds[0].Endpoints) != 2 {
		t.Errorf("destinations %+v", ds)
	}
}

// TestObservedFailures checks the codes an observer is told for a call
// the server answers with an error, and for a stream, whose call ends
// when the stream does, with the stream's status.
func TestObservedFailures(t *testing.T) {
	rec := &recorder{}
	in := &inbound.Gate{}
	in.SetObserver(rec)
	cat := newCatalog()
	cat.put(instance("n1", "payments", serve(t, rpc.Config{Inbound: in}, &payments{name: "p", fail: status.Error(codes.NotFound, "no such order")}), ""))
	d := dialer(t, cat, clientConfig{Service: "checkout", Observer: func() observe.CallObserver { return rec }},
		routing(engine.DestinationConfig{}, nil))
	pc := dial(t, d, "payments")

	// A caller's own traceparent is replaced by the attempt's.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", "stale")
	if _, err := pc.Quote(ctx, &shoppb.QuoteRequest{}); status.Code(err) != codes.NotFound {
		t.Fatalf("quote: %v, want NotFound", err)
	}
	calls, attempts, inbound, carried, _ := rec.snapshot()
	if len(calls) != 1 || calls[0].Status != int(codes.NotFound) || calls[0].Err == nil || calls[0].Attempts != 1 {
		t.Fatalf("calls %+v", calls)
	}
	if len(attempts) != 1 || attempts[0].Outcome != "ok" || attempts[0].Status != int(codes.NotFound) {
		t.Errorf("attempts %+v", attempts)
	}
	if len(inbound) != 1 || inbound[0].Status != int(codes.NotFound) || carried[0] != "attempt-1" {
		t.Errorf("server saw %+v carrying %v", inbound, carried)
	}

	stream, err := pc.Watch(context.Background(), &shoppb.WatchRequest{Updates: 1})
	if err != nil {
		t.Fatal(err)
	}
	if calls, _, _, _, _ := rec.snapshot(); len(calls) != 1 {
		t.Fatal("the stream's call ended while the stream was open")
	}
	if _, err := stream.Recv(); status.Code(err) != codes.NotFound {
		t.Fatalf("stream: %v, want NotFound", err)
	}
	waitFor(t, 5*time.Second, "the stream's call to end", func() bool {
		calls, _, _, _, _ = rec.snapshot()
		return len(calls) == 2
	})
	if c := calls[1]; c.Method != "/shop.Payments/Watch" || c.Status != int(codes.NotFound) || c.Err == nil || c.Attempts != 1 {
		t.Errorf("stream call %+v", c)
	}
}
