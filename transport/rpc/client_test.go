package rpc_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/resilience/breaker"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/transport/route"
	"github.com/weftmesh/weft/transport/rpc"
)

func routing(dc engine.DestinationConfig, routes map[string]route.Config) engine.Routing {
	if dc.Timeout == 0 {
		dc.Timeout = 2 * time.Second
	}
	return engine.Routing{Default: dc.WithDefaults(), Routes: routes}
}

func TestUnprocessedCallIsRetriedAndServedOnce(t *testing.T) {
	cat := newCatalog()
	refuser1, refused1 := refusingServer(t)
	refuser2, refused2 := refusingServer(t)
	good := &payments{name: "good"}
	cat.put(instance("n1", "payments", refuser1, ""))
	cat.put(instance("n2", "payments", refuser2, ""))
	cat.put(instance("n3", "payments", serve(t, rpc.Config{}, good), ""))
	d := dialer(t, cat, clientConfig{Service: "checkout"}, routing(engine.DestinationConfig{
		LoadBalancer: "round_robin",
		Retries:      &retry.Config{Attempts: 3},
	}, nil))
	pc := dial(t, d, "payments")

	// Charge is not idempotent: only a call the server provably never
	// processed may be sent again, and the refused ones are such calls.
	const calls = 30
	for i := range calls {
		if _, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{OrderId: fmt.Sprint(i)}); err != nil {
			t.Fatalf("charge %d: %v", i, err)
		}
	}
	if got := good.charges.Load(); got != calls {
		t.Errorf("the good backend took %d charges, want exactly %d", got, calls)
	}
	if refused1.Load()+refused2.Load() == 0 {
		t.Fatal("no stream was refused: the test did not exercise the retry")
	}
	t.Logf("%d calls, %d streams refused, all served once by the good backend", calls, refused1.Load()+refused2.Load())
}

func TestProcessedCallIsNeverDuplicated(t *testing.T) {
	cat := newCatalog()
	p := &payments{name: "b0", fail: status.Error(codes.Unavailable, "backend overloaded")}
	cat.put(instance("n1", "payments", serve(t, rpc.Config{}, p), ""))
	d := dialer(t, cat, clientConfig{Service: "checkout"}, routing(engine.DestinationConfig{
		Retries: &retry.Config{Attempts: 3, On: []string{retry.OnConnectFailure, retry.On5xx}},
	}, map[string]route.Config{"payments": {Routes: []route.Route{
		{Name: "quotes", Match: route.Match{Path: "/shop.Payments/Quote"}, Idempotent: true},
	}}}))
	pc := dial(t, d, "payments")

	_, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{OrderId: "o1"})
	if code(err) != codes.Unavailable {
		t.Fatalf("charge: %v, want the server's Unavailable", err)
	}
	if got := p.charges.Load(); got != 1 {
		t.Errorf("a failed charge reached the server %d times, want once: a processed non-idempotent call must never be sent again", got)
	}

	// An idempotent route's calls are retried after the same failure.
	_, err = pc.Quote(context.Background(), &shoppb.QuoteRequest{OrderId: "o1"})
	if code(err) != codes.Unavailable {
		t.Fatalf("quote: %v", err)
	}
	if got := p.quotes.Load(); got != 3 {
		t.Errorf("an idempotent quote was sent %d times, want all 3 attempts", got)
	}

	// So are calls with an Idempotency-Key.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "idempotency-key", "k1")
	if _, err = pc.Charge(ctx, &shoppb.ChargeRequest{OrderId: "o2"}); code(err) != codes.Unavailable {
		t.Fatalf("charge with a key: %v", err)
	}
	if got := p.charges.Load(); got != 1+3 {
		t.Errorf("a charge with an Idempotency-Key was sent %d times, want 3", got-1)
	}
}

func TestNoRetryMarkKeepsOneAttempt(t *testing.T) {
	cat := newCatalog()
	p := &payments{name: "b0", fail: status.Error(codes.Unavailable, "down")}
	cat.put(instance("n1", "payments", serve(t, rpc.Config{}, p), ""))
	d := dialer(t, cat, clientConfig{Service: "checkout"}, routing(engine.DestinationConfig{Retries: &retry.Config{Attempts: 3}},
		map[string]route.Config{"payments": {Routes: []route.Route{{Match: route.Match{PathPrefix: "/"}, Idempotent: true}}}}))
	pc := dial(t, d, "payments")
	// A caller up the chain retries: this hop tries once.
	if _, err := pc.Quote(retry.WithNoRetry(context.Background()), &shoppb.QuoteRequest{}); code(err) != codes.Unavailable {
		t.Fatalf("quote: %v", err)
	}
	if got := p.quotes.Load(); got != 1 {
		t.Errorf("a call marked by an upstream retry owner was sent %d times, want 1", got)
	}
}

func TestNoEndpointIsUnavailable(t *testing.T) {
	cat := newCatalog()
	d := dialer(t, cat, clientConfig{Service: "checkout"}, routing(engine.DestinationConfig{}, nil))
	pc := dial(t, d, "payments")
	start := time.Now()
	_, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{})
	if code(err) != codes.Unavailable || !strings.Contains(err.Error(), `"payments"`) || !strings.Contains(err.Error(), "no endpoint available") {
		t.Fatalf("charge to a service nobody serves: %v; want Unavailable naming the service", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the call took %v to fail; with no endpoint it fails at once", d)
	}
	// Instances that are not ready are counted in the message.
	in := instance("n1", "payments", "127.0.0.1:1", "")
	in.State = 3 // draining
	cat.put(in)
	_, err = pc.Charge(context.Background(), &shoppb.ChargeRequest{})
	if code(err) != codes.Unavailable || !strings.Contains(err.Error(), "none ready") {
		t.Fatalf("charge to a draining service: %v", err)
	}
}

func TestTimeoutIsDeadlineExceededAndTravels(t *testing.T) {
	cat := newCatalog()
	slow := &payments{name: "slow", delay: time.Second}
	cat.put(instance("n1", "payments", serve(t, rpc.Config{}, slow), ""))
	d := dialer(t, cat, clientConfig{Service: "checkout"}, routing(engine.DestinationConfig{Timeout: 150 * time.Millisecond}, nil))
	pc := dial(t, d, "payments")
	start := time.Now()
	_, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{})
	if code(err) != codes.DeadlineExceeded {
		t.Fatalf("slow charge: %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 700*time.Millisecond {
		t.Errorf("the call took %v; the policy's timeout is 150ms", took)
	}
	// The server's handler had the caller's deadline, through gRPC's own
	// grpc-timeout.
	if left := time.Duration(slow.deadline.Load()); left <= 0 || left > 150*time.Millisecond {
		t.Errorf("the server saw %v left, want at most the 150ms timeout", left)
	}
}

func TestHedgedCallWinsOverASlowBackend(t *testing.T) {
	cat := newCatalog()
	slow := &payments{name: "slow", delay: 500 * time.Millisecond}
	fast := &payments{name: "fast"}
	cat.put(instance("n1", "payments", serve(t, rpc.Config{}, slow), ""))
	cat.put(instance("n2", "payments", serve(t, rpc.Config{}, fast), ""))
	hedge := &retry.HedgeConfig{Delay: 20 * time.Millisecond}
	d := dialer(t, cat, clientConfig{Service: "checkout"}, routing(engine.DestinationConfig{LoadBalancer: "round_robin"},
		map[string]route.Config{"payments": {Routes: []route.Route{
			{Name: "quotes", Match: route.Match{Path: "/shop.Payments/Quote"}, Idempotent: true, Hedge: hedge},
			{Name: "rest", Match: route.Match{PathPrefix: "/shop.Payments/"}, Hedge: hedge},
		}}}))
	pc := dial(t, d, "payments")
	waitFor(t, 5*time.Second, "both backends connected", func() bool {
		pc.Quote(context.Background(), &shoppb.QuoteRequest{})
		return slow.quotes.Load() > 0 && fast.quotes.Load() > 0
	})
	for i := range 10 {
		start := time.Now()
		r, err := pc.Quote(context.Background(), &shoppb.QuoteRequest{})
		if err != nil {
			t.Fatalf("quote %d: %v", i, err)
		}
		if took := time.Since(start); took > 300*time.Millisecond {
			t.Errorf("quote %d took %v from %s; a hedge after 20ms should have won", i, took, r.ServedBy)
		}
		if r.ServedBy != "fast" || r.AmountCents != 100 {
			t.Errorf("quote %d: reply %v, want the fast backend's", i, r)
		}
	}
	// Charge is not idempotent: never hedged, although its route hedges.
	before := slow.charges.Load() + fast.charges.Load()
	for range 4 {
		if _, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := slow.charges.Load() + fast.charges.Load() - before; got != 4 {
		t.Errorf("4 charges reached the servers %d times", got)
	}
}

func TestRoutesMatchMethodAndMetadataAndSplitBySubset(t *testing.T) {
	cat := newCatalog()
	v1 := &payments{name: "v1"}
	v2 := &payments{name: "v2"}
	cat.put(instance("n1", "payments", serve(t, rpc.Config{}, v1), "v1"))
	cat.put(instance("n2", "payments", serve(t, rpc.Config{}, v2), "v2"))
	d := dialer(t, cat, clientConfig{Service: "checkout"}, routing(engine.DestinationConfig{},
		map[string]route.Config{"payments": {
			Subsets: map[string]route.Subset{"v1": {Version: "v1"}, "v2": {Version: "v2"}},
			Routes: []route.Route{
				{Name: "canary", Match: route.Match{Headers: map[string]string{"x-canary": "1"}}, To: map[string]int{"v2": 1}},
				{Name: "quotes", Match: route.Match{Path: "/shop.Payments/Quote"}, To: map[string]int{"v2": 1}},
				{Name: "rest", Match: route.Match{PathPrefix: "/shop.Payments/"}, To: map[string]int{"v1": 1}},
			},
		}}))
	pc := dial(t, d, "payments")
	canary := metadata.AppendToOutgoingContext(context.Background(), "x-canary", "1")
	for i := range 20 {
		r, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{})
		if err != nil || r.ServedBy != "v1" {
			t.Fatalf("charge %d: %v %v, want v1", i, r, err)
		}
		r, err = pc.Charge(canary, &shoppb.ChargeRequest{})
		if err != nil || r.ServedBy != "v2" {
			t.Fatalf("canary charge %d: %v %v, want v2", i, r, err)
		}
		q, err := pc.Quote(context.Background(), &shoppb.QuoteRequest{})
		if err != nil || q.ServedBy != "v2" {
			t.Fatalf("quote %d: %v %v, want v2", i, q, err)
		}
	}
}

func TestInjectedAbortUsesTheStatusCode(t *testing.T) {
	cat := newCatalog()
	p := &payments{name: "b0"}
	cat.put(instance("n1", "payments", serve(t, rpc.Config{}, p), ""))
	d := dialer(t, cat, clientConfig{Service: "checkout"}, routing(engine.DestinationConfig{},
		map[string]route.Config{"payments": {Routes: []route.Route{
			{Match: route.Match{Path: "/shop.Payments/Charge"}, Fault: &route.Fault{Abort: &route.FaultAbort{Status: 503, Percent: 100}}},
		}}}))
	pc := dial(t, d, "payments")
	_, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{})
	if code(err) != codes.Unavailable || !strings.Contains(err.Error(), "fault injected") {
		t.Fatalf("aborted charge: %v", err)
	}
	if p.charges.Load() != 0 {
		t.Error("an aborted call reached the server")
	}
}

func TestBreakerCountsStreamsWhenTheyEnd(t *testing.T) {
	cat := newCatalog()
	bad := &payments{name: "bad", fail: status.Error(codes.Internal, "broken")}
	good := &payments{name: "good"}
	cat.put(instance("n1", "payments", serve(t, rpc.Config{}, bad), ""))
	cat.put(instance("n2", "payments", serve(t, rpc.Config{}, good), ""))
	d := dialer(t, cat, clientConfig{Service: "checkout"}, routing(engine.DestinationConfig{
		LoadBalancer:   "round_robin",
		CircuitBreaker: &breaker.Config{ConsecutiveFailures: 3, OpenFor: time.Minute},
	}, nil))
	pc := dial(t, d, "payments")
	waitFor(t, 5*time.Second, "both backends connected", func() bool {
		w, err := pc.Watch(context.Background(), &shoppb.WatchRequest{Updates: 1})
		if err == nil {
			for {
				if _, err := w.Recv(); err != nil {
					break
				}
			}
		}
		return bad.watches.Load() > 0 && good.watches.Load() > 0
	})
	// Each stream's outcome reaches the breaker when the stream ends: after
	// three failed streams the bad backend's breaker opens and it gets no
	// more streams.
	failedStreams := 0
	for range 40 {
		w, err := pc.Watch(context.Background(), &shoppb.WatchRequest{Updates: 2})
		if err != nil {
			t.Fatalf("opening a stream: %v", err)
		}
		for {
			if _, err = w.Recv(); err != nil {
				break
			}
		}
		if code(err) == codes.Internal {
			failedStreams++
		}
	}
	if got := bad.watches.Load(); got > 4 {
		t.Errorf("the failing backend got %d streams; its breaker should have opened after 3 failures", got)
	}
	t.Logf("failing backend: %d streams (%d failed in the measured 40), good backend: %d", bad.watches.Load(), failedStreams, good.watches.Load())
}

func TestDialRejectsBadServiceNames(t *testing.T) {
	d := rpc.NewDialer(engine.New(engine.Config{}))
	defer d.Close()
	for _, name := range []string{"", "Payments", "pay ments", "payments:443", "-x"} {
		if cc, err := d.Dial(name); err == nil {
			cc.Close()
			t.Errorf("Dial(%q) succeeded", name)
		}
	}
	d.Close()
	if _, err := d.Dial("payments"); err == nil {
		t.Error("Dial after Close succeeded")
	}
}

func TestMirrorSendsACopyToTheSubset(t *testing.T) {
	cat := newCatalog()
	live := &payments{name: "live"}
	shadow := &payments{name: "shadow", delay: 300 * time.Millisecond}
	cat.put(instance("n1", "payments", serve(t, rpc.Config{}, live), "v1"))
	cat.put(instance("n2", "payments", serve(t, rpc.Config{}, shadow), "shadow"))
	d := dialer(t, cat, clientConfig{Service: "checkout"}, routing(engine.DestinationConfig{},
		map[string]route.Config{"payments": {
			Subsets: map[string]route.Subset{"v1": {Version: "v1"}, "shadow": {Version: "shadow"}},
			Routes: []route.Route{
				{Match: route.Match{Path: "/shop.Payments/Quote"}, To: map[string]int{"v1": 1}, Mirror: &route.Mirror{Subset: "shadow", Percent: 100}},
			},
		}}))
	pc := dial(t, d, "payments")
	for i := range 20 {
		start := time.Now()
		r, err := pc.Quote(context.Background(), &shoppb.QuoteRequest{Items: int32(i)})
		if err != nil || r.ServedBy != "live" {
			t.Fatalf("quote %d: %v %v, want the live backend's answer", i, r, err)
		}
		if took := time.Since(start); took > 200*time.Millisecond {
			t.Errorf("quote %d took %v: the slow mirror held it up", i, took)
		}
	}
	waitFor(t, 5*time.Second, "20 mirrored copies", func() bool { return shadow.quotes.Load() == 20 })
	if live.quotes.Load() != 20 {
		t.Errorf("live backend got %d quotes, want 20", live.quotes.Load())
	}
}
