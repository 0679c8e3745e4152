package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/internal/clocktest"
	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/breaker"
	"github.com/weftmesh/weft/resilience/outlier"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/transport/route"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newEngine returns an engine whose service "svc" has n ready instances,
// node-1 … node-n, each serving HTTP at 10.0.0.i:80 and gRPC at
// 10.0.0.i:90 (never dialed: attempts are fakes), with cfg.
func newEngine(t *testing.T, cfg engine.DestinationConfig, routes map[string]route.Config, n int) *engine.Engine {
	t.Helper()
	e := engine.New(engine.Config{Source: "caller"})
	t.Cleanup(e.Close)
	if err := e.UpdateRouting(engine.Routing{
		Destinations: map[string]engine.DestinationConfig{"svc": cfg.WithDefaults()},
		Default:      engine.DestinationConfig{}.WithDefaults(),
		Routes:       routes,
	}); err != nil {
		t.Fatal(err)
	}
	e.UpdateCatalog(discovery.NewView(1, instances(n)...))
	return e
}

// oneTryRoundRobin returns cfg balanced round robin without retries: each
// call is one attempt, to the next endpoint in turn.
func oneTryRoundRobin(cfg engine.DestinationConfig) engine.DestinationConfig {
	cfg.LoadBalancer, cfg.Retries = "round_robin", &retry.Config{Attempts: 1}
	return cfg
}

func instances(n int) []*discovery.Instance {
	var out []*discovery.Instance
	for i := 1; i <= n; i++ {
		out = append(out, &discovery.Instance{
			Node: fmt.Sprintf("node-%d", i), Service: "svc", State: discovery.StateReady, Seq: 1,
			Endpoints: []discovery.Endpoint{
				{Protocol: "http", Addr: fmt.Sprintf("10.0.0.%d:80", i)},
				{Protocol: "grpc", Addr: fmt.Sprintf("10.0.0.%d:90", i)},
			},
		})
	}
	return out
}

// answer is how a fake endpoint answers one attempt.
type answer struct {
	status  int
	failure retry.Failure
	block   bool // wait until the attempt is cancelled
}

// fake is an [engine.Attempter] whose endpoints answer as told, recording
// which endpoint each attempt went to.
type fake struct {
	mu      sync.Mutex
	answers func(addr string, n int) answer // n counts attempts to addr from 1
	seen    map[string]int
	order   []string
}

func newFake(answers func(addr string, n int) answer) *fake {
	return &fake{answers: answers, seen: make(map[string]int)}
}

// failing returns a fake whose endpoints at addrs answer 500 and the
// others 200.
func failing(addrs ...string) *fake {
	return newFake(func(addr string, n int) answer {
		if slices.Contains(addrs, addr) {
			return answer{status: 500}
		}
		return answer{status: 200}
	})
}

func (f *fake) Attempt(ctx context.Context, t *engine.Try) engine.Result[int] {
	pk := t.Picked()
	addr := pk.Endpoint.Addr
	f.mu.Lock()
	f.seen[addr]++
	f.order = append(f.order, addr)
	a := f.answers(addr, f.seen[addr])
	f.mu.Unlock()
	var v engine.Verdict
	if a.block {
		<-ctx.Done()
		v.Outcome.Failure, v.Abandoned = retry.Reset, t.Abandoned()
	} else {
		v.Outcome = retry.Outcome{Status: a.status, Failure: a.failure}
	}
	pk.Done(v)
	res := engine.Result[int]{Value: a.status, Outcome: v.Outcome}
	if v.Outcome.Failure != retry.NoFailure {
		pk.End()
		res.Err = fmt.Errorf("attempt to %s failed", addr)
	}
	return res
}

func (f *fake) Discard(t *engine.Try, res engine.Result[int]) {
	if res.Err == nil {
		t.Picked().End()
	}
}

func (f *fake) Rewind() bool { return true }

func (f *fake) attempts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}

// call runs one call of method through e's "svc" over HTTP endpoints.
func call(t *testing.T, e *engine.Engine, method string, a *fake) (int, error) {
	t.Helper()
	d := e.Destination("svc")
	c, ctx := d.Begin(context.Background(), engine.Request{Protocol: engine.HTTP, Method: method, Name: method, Path: "/"})
	ctx = c.WithDeadline(ctx)
	defer c.EndDeadline()
	tr, res := engine.Run(ctx, ctx, c, a, d.Pickers(engine.HTTP), true)
	if tr != nil {
		if res.Err == nil {
			tr.Picked().End()
		}
		tr.Release()
	}
	return res.Value, res.Err
}

// assertIdle fails when an endpoint of svc still counts a request in
// flight: every pick must have been ended.
func assertIdle(t *testing.T, e *engine.Engine) {
	t.Helper()
	for _, p := range []engine.Protocol{engine.HTTP, engine.GRPC} {
		for _, ep := range e.Destination("svc").Endpoints(p) {
			if n := ep.InFlight(); n != 0 {
				t.Errorf("%s still has %d requests in flight", ep.Addr, n)
			}
		}
	}
}

func TestRetryGoesToAnotherEndpoint(t *testing.T) {
	e := newEngine(t, engine.DestinationConfig{LoadBalancer: "round_robin", Retries: &retry.Config{Attempts: 3, Backoff: retry.Backoff{Base: time.Millisecond, Max: time.Millisecond}}}, nil, 3)
	for i := range 30 {
		first := ""
		f := newFake(func(addr string, n int) answer {
			if first == "" || first == addr {
				first = addr
				return answer{status: 503}
			}
			return answer{status: 200}
		})
		status, err := call(t, e, http.MethodGet, f)
		got := f.attempts()
		if err != nil || status != 200 || len(got) != 2 || got[0] == got[1] {
			t.Fatalf("call %d: status %d, err %v, attempts %v: want a 503 retried once on another endpoint", i, status, err, got)
		}
	}
	assertIdle(t, e)
}

func TestProcessedPostIsNeverSentTwice(t *testing.T) {
	e := newEngine(t, engine.DestinationConfig{Retries: &retry.Config{Attempts: 3, On: []string{"connect-failure", "reset", "5xx"}}}, nil, 3)
	for _, tc := range []struct {
		name    string
		answer  answer
		tries   int
		wantErr bool
	}{
		{"reset after sending", answer{failure: retry.Reset}, 1, true},
		{"5xx", answer{status: 500}, 1, false},
		{"connection refused", answer{failure: retry.ConnectFailure}, 3, true},
		{"refused stream", answer{failure: retry.RefusedStream}, 3, true},
	} {
		f := newFake(func(string, int) answer { return tc.answer })
		_, err := call(t, e, http.MethodPost, f)
		if got := len(f.attempts()); got != tc.tries || (err != nil) != tc.wantErr {
			t.Errorf("%s: %d attempts, err %v; want %d attempts", tc.name, got, err, tc.tries)
		}
	}
	assertIdle(t, e)
}

func TestNoRetryMarkAndMirrorTryOnce(t *testing.T) {
	e := newEngine(t, engine.DestinationConfig{Retries: &retry.Config{Attempts: 3}}, nil, 2)
	d := e.Destination("svc")
	for _, r := range []engine.Request{
		{Protocol: engine.HTTP, Method: "GET", NoRetry: true},
		{Protocol: engine.GRPC, Method: "POST", Mirror: ""},
	} {
		c, _ := d.Begin(context.Background(), r)
		if want := r.Protocol == engine.GRPC; c.Retries() != want {
			t.Errorf("%+v: Retries() = %v", r, c.Retries())
		}
	}
}

// A call that finds no endpoint must not pay into the retry budget: it
// would let the failing calls that do reach an endpoint retry more than
// the budget allows.
func TestNoEndpointEarnsNoRetries(t *testing.T) {
	cfg := engine.DestinationConfig{Retries: &retry.Config{
		Attempts: 3, On: []string{"5xx"},
		Backoff: retry.Backoff{Base: time.Microsecond, Max: time.Microsecond},
		Budget:  retry.BudgetConfig{Ratio: 0.2, MinPerSecond: 0.001, TTL: time.Minute},
	}}
	e := newEngine(t, cfg, nil, 0)
	f := newFake(func(string, int) answer { return answer{status: 503} })
	for range 1000 {
		if _, err := call(t, e, http.MethodGet, f); !errors.Is(err, engine.ErrNoEndpoint) {
			t.Fatalf("call without endpoints: %v", err)
		}
	}
	if got := e.Status(engine.HTTP, nil)[0].RetryBudget; got != 0 {
		t.Fatalf("after 1000 calls that found no endpoint the budget holds %d retries, want 0", got)
	}
	e.UpdateCatalog(discovery.NewView(2, instances(3)...))
	const calls = 20
	for range calls {
		if status, _ := call(t, e, http.MethodGet, f); status != 503 {
			t.Fatalf("status %d, want the 503", status)
		}
	}
	// 20 calls deposit 4 retries' worth; without the budget they would
	// make 60 attempts.
	if got := len(f.attempts()); got > calls+4 {
		t.Errorf("%d calls made %d attempts: the budget allows at most %d", calls, got, calls+4)
	}
	assertIdle(t, e)
}

func TestHedgeWinsAndTheLoserIsCancelled(t *testing.T) {
	routes := map[string]route.Config{"svc": {Routes: []route.Route{{
		Name: "hedged", Match: route.Match{PathPrefix: "/"},
		Hedge: &retry.HedgeConfig{Delay: 5 * time.Millisecond, MaxExtra: 1},
	}}}}
	e := newEngine(t, engine.DestinationConfig{LoadBalancer: "round_robin", Retries: &retry.Config{Attempts: 2}}, routes, 2)
	d := e.Destination("svc")
	for i := range 10 {
		slow := ""
		f := newFake(func(addr string, n int) answer {
			if slow == "" || slow == addr {
				slow = addr
				return answer{block: true}
			}
			return answer{status: 200}
		})
		req := &http.Request{Method: "GET", URL: mustURL("http://svc/x"), Header: http.Header{}}
		c, ctx := d.Begin(context.Background(), engine.Request{Protocol: engine.HTTP, Method: "GET", Route: d.Routes().Match(req)})
		ctx = c.WithDeadline(ctx)
		tr, res := engine.Run(ctx, ctx, c, f, d.Pickers(engine.HTTP), true)
		if res.Err != nil || res.Value != 200 || tr.N() != 2 || !tr.Hedge() {
			t.Fatalf("call %d: status %d err %v, winner attempt %d (hedge %v); want the hedge to win", i, res.Value, res.Err, tr.N(), tr.Hedge())
		}
		if got := f.attempts(); len(got) != 2 || got[0] == got[1] {
			t.Fatalf("call %d: attempts %v, want two endpoints", i, got)
		}
		tr.Picked().End()
		tr.Release()
		c.EndDeadline()
	}
	assertIdle(t, e)
}

// One breaker per instance, shared by every protocol: failures seen over
// HTTP keep gRPC attempts off the instance.
func TestBreakerIsSharedByProtocols(t *testing.T) {
	e := newEngine(t, oneTryRoundRobin(engine.DestinationConfig{
		CircuitBreaker: &breaker.Config{ConsecutiveFailures: 3, OpenFor: time.Minute},
	}), nil, 2)
	f := failing("10.0.0.1:80")
	for range 6 {
		call(t, e, http.MethodGet, f)
	}
	d := e.Destination("svc")
	if st := e.Status(engine.GRPC, nil)[0].Endpoints[0]; st.Node != "node-1" || st.Breaker != "open" {
		t.Fatalf("gRPC view of node-1: %+v, want its breaker open", st)
	}
	for range 20 {
		c, _ := d.Begin(context.Background(), engine.Request{Protocol: engine.GRPC, Method: "POST"})
		tr, res := engine.Run(context.Background(), context.Background(), c, newFake(func(string, int) answer { return answer{status: 200} }), d.Pickers(engine.GRPC), false)
		if res.Err != nil || tr.Picked().Endpoint.Node != "node-2" {
			t.Fatalf("a gRPC attempt went to %v (%v) while node-1's breaker is open", tr.Picked().Endpoint, res.Err)
		}
		tr.Picked().End()
	}
	assertIdle(t, e)
}

// One outlier detector per destination, judging instances for every
// protocol: failures of one instance over HTTP and over gRPC count as one
// run, and its ejection keeps both protocols' attempts off it. Neither
// protocol alone sees enough failures in a row to eject it.
func TestOutlierDetectionIsSharedByProtocols(t *testing.T) {
	e := newEngine(t, oneTryRoundRobin(engine.DestinationConfig{
		OutlierDetection: &outlier.Config{ConsecutiveErrors: 4, EjectFor: time.Minute},
	}), nil, 2)
	d := e.Destination("svc")
	f := failing("10.0.0.1:80", "10.0.0.1:90")
	run := func(p engine.Protocol) string {
		c, _ := d.Begin(context.Background(), engine.Request{Protocol: p, Method: "GET"})
		tr, _ := engine.Run(context.Background(), context.Background(), c, f, d.Pickers(p), false)
		tr.Picked().End()
		return tr.Picked().Endpoint.Node
	}
	// Two failures of node-1 over each protocol, alternately.
	failures := map[engine.Protocol]int{}
	for i := 0; failures[engine.HTTP] < 2 || failures[engine.GRPC] < 2; i++ {
		if i == 20 {
			t.Fatalf("node-1 failed %v times in 20 calls; round robin should have picked it every other call", failures)
		}
		p := engine.Protocol(i % 2)
		if failures[p] < 2 && run(p) == "node-1" {
			failures[p]++
		}
	}
	for _, p := range []engine.Protocol{engine.HTTP, engine.GRPC} {
		if st := e.Status(p, nil)[0].Endpoints[0]; st.Node != "node-1" || !st.Ejected {
			t.Errorf("%s view of node-1 after 2 HTTP and 2 gRPC failures in a row: %+v, want it ejected", p, st)
		}
	}
	for i := range 20 {
		p := engine.Protocol(i % 2)
		if node := run(p); node != "node-2" {
			t.Fatalf("a %s attempt went to %s, which 4 failures in a row over both protocols ejected", p, node)
		}
	}
	assertIdle(t, e)
}

// Retries over HTTP and gRPC draw from the destination's one budget.
func TestBudgetIsSharedByProtocols(t *testing.T) {
	e := newEngine(t, engine.DestinationConfig{Retries: &retry.Config{
		Attempts: 2, On: []string{"5xx"}, Backoff: retry.Backoff{Base: time.Microsecond, Max: time.Microsecond},
		Budget: retry.BudgetConfig{Ratio: 0.001, MinPerSecond: 0.5, TTL: 10 * time.Second},
	}}, nil, 2)
	d := e.Destination("svc")
	if got := e.Status(engine.HTTP, nil)[0].RetryBudget; got != 5 {
		t.Fatalf("budget starts with %d retries, want 5", got)
	}
	f := newFake(func(string, int) answer { return answer{status: 503} })
	for i := range 10 {
		p := engine.Protocol(i % 2)
		c, _ := d.Begin(context.Background(), engine.Request{Protocol: p, Method: "GET"})
		tr, _ := engine.Run(context.Background(), context.Background(), c, f, d.Pickers(p), false)
		tr.Picked().End()
	}
	if got := len(f.attempts()); got != 15 {
		t.Errorf("10 failing calls over both protocols made %d attempts, want 15: one budget of 5 retries", got)
	}
	for _, p := range []engine.Protocol{engine.HTTP, engine.GRPC} {
		if got := e.Status(p, nil)[0].RetryBudget; got != 0 {
			t.Errorf("%s sees %d retries left, want 0", p, got)
		}
	}
}

func TestDestinationsKeepStateAcrossCatalogChanges(t *testing.T) {
	e := newEngine(t, engine.DestinationConfig{LoadBalancer: "round_robin"}, nil, 2)
	before := e.Destination("svc")
	ep := before.Endpoints(engine.HTTP)[0]
	ep.Begin()
	defer ep.End()
	e.UpdateCatalog(discovery.NewView(2, instances(3)...))
	after := e.Destination("svc")
	if after == before || len(after.Endpoints(engine.HTTP)) != 3 {
		t.Fatalf("the new view made no new snapshot")
	}
	if after.Endpoints(engine.HTTP)[0] != ep || ep.InFlight() != 1 {
		t.Error("an unchanged instance got a new Endpoint: its counters were lost")
	}
	e.UpdateCatalog(discovery.NewView(3, instances(3)...))
	if e.Destination("svc") != after {
		t.Error("an identical view replaced the snapshot")
	}
	e.UpdateCatalog(discovery.NewView(1, instances(1)...))
	if e.Destination("svc") != after {
		t.Error("an older view was installed")
	}
}

func TestWatchFollowsSnapshots(t *testing.T) {
	e := newEngine(t, engine.DestinationConfig{}, nil, 1)
	var mu sync.Mutex
	var seen []int
	stop := e.Watch("svc", func(d *engine.Destination) {
		mu.Lock()
		seen = append(seen, len(d.Endpoints(engine.GRPC)))
		mu.Unlock()
	})
	e.UpdateCatalog(discovery.NewView(2, instances(2)...))
	stop()
	e.UpdateCatalog(discovery.NewView(3, instances(3)...))
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != "[1 2]" {
		t.Errorf("watcher saw endpoint counts %v, want [1 2]", seen)
	}
	var unknown *engine.Destination
	e.Watch("nobody", func(d *engine.Destination) { unknown = d })()
	if unknown == nil || !errors.Is(unknown.NoEndpoint(engine.GRPC, ""), engine.ErrNoEndpoint) {
		t.Errorf("a watched unknown service has no snapshot that explains itself: %v", unknown)
	}
}

func TestUnknownBalancerIsRefused(t *testing.T) {
	e := engine.New(engine.Config{})
	err := e.UpdateRouting(engine.Routing{Default: engine.DestinationConfig{LoadBalancer: "fastest"}.WithDefaults()})
	if err == nil {
		t.Fatal("an unknown balancer was accepted")
	}
	if _, ok := resilience.Lookup("round_robin"); !ok {
		t.Error("the engine did not register the built-in balancers")
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// peak_ewma keeps calls off a slow instance: the choices themselves are
// checked, on a clock that moves by each endpoint's latency, so the test
// holds on any machine.
func TestPeakEWMAAvoidsASlowEndpoint(t *testing.T) {
	clock := clocktest.New(time.Unix(1_000_000_000, 0))
	e := engine.New(engine.Config{Clock: clock.Now})
	t.Cleanup(e.Close)
	if err := e.UpdateRouting(engine.Routing{
		Destinations: map[string]engine.DestinationConfig{"svc": engine.DestinationConfig{LoadBalancer: "peak_ewma"}.WithDefaults()},
		Default:      engine.DestinationConfig{}.WithDefaults(),
	}); err != nil {
		t.Fatal(err)
	}
	e.UpdateCatalog(discovery.NewView(1, instances(5)...))
	const slow = "10.0.0.5:80"
	f := newFake(func(addr string, n int) answer {
		if addr == slow {
			clock.Advance(100 * time.Millisecond)
		} else {
			clock.Advance(5 * time.Millisecond)
		}
		return answer{status: 200}
	})
	const calls = 2000
	for range calls {
		call(t, e, http.MethodGet, f)
	}
	f.mu.Lock()
	got := f.seen[slow]
	f.mu.Unlock()
	// Round robin would send it 400; peak_ewma probes it once, then again
	// only as its estimate decays.
	if got > calls/100 {
		t.Errorf("peak_ewma sent %d of %d calls to the slow endpoint; want at most 1%%", got, calls)
	}
	t.Logf("slow endpoint: %d of %d calls", got, calls)
}
