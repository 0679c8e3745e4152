package transport_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/internal/inbound"
	"github.com/weftmesh/weft/resilience/breaker"
	"github.com/weftmesh/weft/resilience/outlier"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/transport"
	"github.com/weftmesh/weft/transport/observe"
	"github.com/weftmesh/weft/transport/route"
)

// recorder is a CallObserver that keeps what it is told, and writes an
// attempt marker into each attempt's headers.
type recorder struct {
	mu     sync.Mutex
	events []string
	calls  []*observe.CallInfo // copies taken in EndCall
	tries  [][]observe.TryRecord
	atts   []observe.AttemptInfo
	ended  chan struct{}
}

type ctxKey struct{}

func newRecorder() *recorder { return &recorder{ended: make(chan struct{}, 100)} }

func (r *recorder) add(e string) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) StartCall(ctx context.Context, c *observe.CallInfo) context.Context {
	r.add("start-call " + c.Destination + " " + c.Route)
	return context.WithValue(ctx, ctxKey{}, "call")
}

func (r *recorder) StartAttempt(ctx context.Context, c *observe.CallInfo, a *observe.AttemptInfo) context.Context {
	if ctx.Value(ctxKey{}) != "call" {
		panic("attempt context does not derive from the call's")
	}
	r.add(fmt.Sprintf("start-attempt %d", a.N))
	a.Carrier.Set("X-Attempt", fmt.Sprint(a.N))
	return context.WithValue(ctx, ctxKey{}, "attempt")
}

func (r *recorder) EndAttempt(ctx context.Context, c *observe.CallInfo, a *observe.AttemptInfo) {
	if ctx.Value(ctxKey{}) != "attempt" {
		panic("EndAttempt without the attempt's context")
	}
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf("end-attempt %d %s", a.N, a.Outcome))
	r.atts = append(r.atts, *a)
	r.mu.Unlock()
}

func (r *recorder) EndCall(ctx context.Context, c *observe.CallInfo) {
	if ctx.Value(ctxKey{}) != "call" {
		panic("EndCall without the call's context")
	}
	r.mu.Lock()
	r.events = append(r.events, "end-call")
	r.calls = append(r.calls, &observe.CallInfo{
		Protocol: c.Protocol, Source: c.Source, Destination: c.Destination, Method: c.Method, Path: c.Path,
		Route: c.Route, Subset: c.Subset, Attempts: c.Attempts, Hedges: c.Hedges, BudgetExhausted: c.BudgetExhausted,
		Status: c.Status, Err: c.Err, Endpoint: c.Endpoint, Start: c.Start, End: c.End,
	})
	r.tries = append(r.tries, slices.Clone(c.Tries()))
	r.mu.Unlock()
	r.ended <- struct{}{}
}

func (r *recorder) snapshot() ([]string, []*observe.CallInfo, [][]observe.TryRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events), slices.Clone(r.calls), slices.Clone(r.tries)
}

// observedRouter returns a router for service echo over the given
// instances, with cfg and routes, observed by a recorder.
func observedRouter(t *testing.T, cfg engine.DestinationConfig, routes *route.Config, instances ...*discovery.Instance) (*router, *recorder) {
	t.Helper()
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	r := newTestRouter(routerConfig{Base: base, Source: "front"})
	t.Cleanup(r.Close)
	if cfg.LoadBalancer == "" {
		cfg.LoadBalancer = "round_robin"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	rt := routing{
		Destinations: map[string]engine.DestinationConfig{"echo": cfg},
		Default:      engine.DestinationConfig{LoadBalancer: "least_request", Timeout: time.Second},
	}
	if routes != nil {
		rt.Routes = map[string]route.Config{"echo": *routes}
	}
	if err := r.UpdateRouting(rt); err != nil {
		t.Fatal(err)
	}
	r.UpdateCatalog(discovery.NewView(1, instances...))
	rec := newRecorder()
	r.SetObserver(rec)
	return r, rec
}

func versioned(in *discovery.Instance, version string) *discovery.Instance {
	in.Version = version
	return in
}

// statusServer answers with the statuses given, one per request, then
// 200; it records the X-Attempt header of each request.
func statusServer(t *testing.T, statuses ...int) (addr string, seen func() []string) {
	var (
		mu    sync.Mutex
		n     int
		marks []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		code := http.StatusOK
		if n < len(statuses) {
			code = statuses[n]
		}
		n++
		marks = append(marks, r.Header.Get("X-Attempt")+"/"+r.Header.Get("X-Caller"))
		mu.Unlock()
		w.WriteHeader(code)
		io.WriteString(w, "body")
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(marks)
	}
}

func TestObserverRetriedCall(t *testing.T) {
	addr, seen := statusServer(t, 503)
	routes := &route.Config{
		Subsets: map[string]route.Subset{"v1": {Version: "v1"}},
		Routes:  []route.Route{{Name: "reads", Match: route.Match{PathPrefix: "/items"}, To: map[string]int{"v1": 100}}},
	}
	r, rec := observedRouter(t, engine.DestinationConfig{}, routes, versioned(instance("a", addr, discovery.StateReady), "v1"))
	c := &http.Client{Transport: r.client("echo")}
	req, _ := http.NewRequest("GET", "http://echo/items/1", nil)
	req.Header.Set("X-Caller", "kept")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The call is not over until its body is closed.
	if ev, _, _ := rec.snapshot(); slices.Contains(ev, "end-call") {
		t.Error("EndCall before the body was closed")
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	ev, calls, tries := rec.snapshot()
	want := []string{"start-call echo reads", "start-attempt 1", "end-attempt 1 error", "start-attempt 2", "end-attempt 2 ok", "end-call"}
	if !slices.Equal(ev, want) {
		t.Errorf("events %q, want %q", ev, want)
	}
	ci := calls[0]
	if ci.Protocol != "http" || ci.Source != "front" || ci.Method != "GET" || ci.Path != "/items/1" || ci.Route != "reads" || ci.Subset != "v1" ||
		ci.Attempts != 2 || ci.Hedges != 0 || ci.Status != 200 || ci.Err != nil || ci.Endpoint != addr || !ci.End.After(ci.Start) {
		t.Errorf("call info %+v", ci)
	}
	if len(tries[0]) != 2 || tries[0][0].Status != 503 || tries[0][0].Outcome != "error" || tries[0][1].Status != 200 || tries[0][1].Endpoint != addr {
		t.Errorf("tries %+v", tries[0])
	}
	// Each attempt carried its own mark, on top of the caller's headers,
	// and the caller's request was left alone.
	if got := seen(); !slices.Equal(got, []string{"1/kept", "2/kept"}) {
		t.Errorf("server saw %q", got)
	}
	if req.Header.Get("X-Attempt") != "" {
		t.Error("an attempt's header leaked into the caller's request")
	}
}

func TestObserverFailedAndFaultedCalls(t *testing.T) {
	routes := &route.Config{Routes: []route.Route{
		{Name: "abort", Match: route.Match{Path: "/abort"}, Fault: &route.Fault{Abort: &route.FaultAbort{Status: 503, Percent: 100}}},
	}}
	r, rec := observedRouter(t, engine.DestinationConfig{}, routes, instance("a", refusedAddr(t), discovery.StateReady))
	c := &http.Client{Transport: r.client("echo")}
	if _, err := c.Get("http://echo/"); err == nil {
		t.Fatal("call to a refused endpoint succeeded")
	}
	resp, err := c.Get("http://echo/abort")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, calls, tries := rec.snapshot()
	if len(calls) != 2 {
		t.Fatalf("%d calls ended, want 2", len(calls))
	}
	if f := calls[0]; f.Err == nil || f.Status != 0 || f.Attempts != 2 || tries[0][0].Outcome != "connect-failure" {
		t.Errorf("failed call %+v, tries %+v", f, tries[0])
	}
	if a := calls[1]; a.Route != "abort" || a.Status != 503 || a.Attempts != 0 || a.Err != nil {
		t.Errorf("aborted call %+v", a)
	}
}

func TestObserverHedgesAndBudget(t *testing.T) {
	var slow atomic.Bool
	slow.Store(true)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.CompareAndSwap(true, false) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, r.Header.Get("X-Attempt"))
	}))
	defer srv.Close()
	defer close(release)
	// One endpoint: the hedge goes to it too, and finds it fast.
	routes := &route.Config{Routes: []route.Route{{Name: "hedged", Hedge: &retry.HedgeConfig{Delay: 20 * time.Millisecond}}}}
	r, rec := observedRouter(t, engine.DestinationConfig{}, routes, instance("a", srv.Listener.Addr().String(), discovery.StateReady))
	c := &http.Client{Transport: r.client("echo")}
	if _, err := do(t, c, mustRequest(t, "GET", "http://echo/")); err != nil {
		t.Fatal(err)
	}
	_, calls, tries := rec.snapshot()
	if calls[0].Attempts != 2 || calls[0].Hedges != 1 {
		t.Errorf("hedged call: %d attempts, %d hedges", calls[0].Attempts, calls[0].Hedges)
	}
	var hedge, cancelled bool
	for _, tr := range tries[0] {
		hedge = hedge || tr.Hedge && tr.Outcome == "ok"
		cancelled = cancelled || !tr.Hedge && tr.Outcome == "cancelled"
	}
	if !hedge || !cancelled {
		t.Errorf("tries %+v, want a winning hedge and the first try cancelled", tries[0])
	}

	// A budget too small for any retry.
	addr, _ := statusServer(t, 503, 503)
	budget := &retry.Config{Attempts: 3, Budget: retry.BudgetConfig{Ratio: 1e-6, MinPerSecond: 0.01, TTL: time.Second}}
	r2, rec2 := observedRouter(t, engine.DestinationConfig{Retries: budget}, nil, instance("a", addr, discovery.StateReady))
	c2 := &http.Client{Transport: r2.client("echo")}
	resp, err := c2.Get("http://echo/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, calls, _ = rec2.snapshot()
	if !calls[0].BudgetExhausted || calls[0].Attempts != 1 || calls[0].Status != 503 {
		t.Errorf("call %+v, want one attempt and the budget exhausted", calls[0])
	}
}

func TestObserverBreakerAndEjection(t *testing.T) {
	addr, _ := statusServer(t, 500, 500, 500, 500)
	cfg := engine.DestinationConfig{
		Retries:          &retry.Config{Attempts: 1},
		CircuitBreaker:   &breaker.Config{ConsecutiveFailures: 2, OpenFor: time.Minute},
		OutlierDetection: &outlier.Config{ConsecutiveErrors: 2, MaxEjectedPercent: 100},
	}
	_, other := echoServer(t)
	r, rec := observedRouter(t, cfg, nil, instance("a", addr, discovery.StateReady), instance("b", other, discovery.StateReady))
	c := &http.Client{Transport: r.client("echo")}
	for range 4 {
		resp, err := c.Get("http://echo/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	rec.mu.Lock()
	var opened, ejected int
	for _, a := range rec.atts {
		if a.BreakerOpened {
			opened++
			if a.Endpoint != addr {
				t.Errorf("breaker of %s reported open", a.Endpoint)
			}
		}
		if a.Ejected {
			ejected++
		}
	}
	rec.mu.Unlock()
	if opened != 1 || ejected != 1 {
		t.Errorf("breaker opened %d times, ejections %d; want 1 and 1", opened, ejected)
	}
	var st observe.EndpointStatus
	for _, d := range r.Destinations() {
		for _, ep := range d.Endpoints {
			if ep.Addr == addr {
				st = ep
			}
		}
	}
	if st.Breaker != "open" || !st.Ejected {
		t.Errorf("endpoint status %+v, want breaker open and ejected", st)
	}
}

func TestDestinations(t *testing.T) {
	hold := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-hold
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	routes := &route.Config{Subsets: map[string]route.Subset{"v2": {Version: "v2"}, "eu": {Labels: map[string]string{"region": "eu"}}}}
	in := versioned(instance("a", addr, discovery.StateReady), "v2")
	in.Labels = map[string]string{"region": "eu"}
	in.Weight = 3
	r, _ := observedRouter(t, engine.DestinationConfig{LoadBalancer: "peak_ewma"}, routes, in, instance("b", refusedAddr(t), discovery.StateDraining))
	c := &http.Client{Transport: r.client("echo")}
	done := make(chan error)
	go func() {
		resp, err := c.Get("http://echo/")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	var d observe.DestinationStatus
	for {
		ds := r.Destinations()
		if len(ds) == 1 && len(ds[0].Endpoints) == 1 && ds[0].Endpoints[0].InFlight == 1 {
			d = ds[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("in-flight request never seen: %+v", ds)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ep := d.Endpoints[0]
	if d.Service != "echo" || d.LoadBalancer != "peak_ewma" || d.Ready != 1 || d.Unready != 1 || d.Breakers ||
		ep.Addr != addr || ep.Node != "a" || ep.Version != "v2" || ep.Weight != 3 || ep.Labels["region"] != "eu" ||
		!slices.Equal(ep.Subsets, []string{"eu", "v2"}) || ep.Down || ep.Ejected || ep.Breaker != "" {
		t.Errorf("destination %+v", d)
	}
	after := r.Destinations()[0].Endpoints[0]
	if after.InFlight != 0 || after.LatencyMs <= 0 {
		t.Errorf("after the call: in flight %d, latency %v ms", after.InFlight, after.LatencyMs)
	}
}

func TestDecisionLog(t *testing.T) {
	addr, _ := statusServer(t, 502)
	r, _ := observedRouter(t, engine.DestinationConfig{}, nil, instance("a", addr, discovery.StateReady))
	log := observe.NewDecisionLog(3)
	rec := newRecorder()
	r.SetObserver(observe.Observers(nil, rec, log))
	c := &http.Client{Transport: r.client("echo")}
	for i := range 5 {
		resp, err := c.Get(fmt.Sprintf("http://echo/%d", i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	got := log.Recent()
	if len(got) != 3 {
		t.Fatalf("%d decisions kept, want 3", len(got))
	}
	for i, d := range got {
		if want := fmt.Sprintf("/%d", 4-i); d.Path != want {
			t.Errorf("decision %d is for %s, want %s (newest first)", i, d.Path, want)
		}
		if d.Destination != "echo" || d.Status != 200 || d.Outcome != "ok" || d.Endpoint != addr || d.Method != "GET" || d.TraceID != "" {
			t.Errorf("decision %d: %+v", i, d)
		}
	}
	if n := len(rec.events); n != 5*4+2 {
		t.Errorf("the other observer saw %d events, want 22", n)
	}
	if observe.Observers() != nil || observe.Observers(nil, nil) != nil {
		t.Error("Observers of nothing is not nil")
	}
	// A retried call's decision tells both attempts.
	log2 := observe.NewDecisionLog(0)
	addr2, _ := statusServer(t, 502)
	r2, _ := observedRouter(t, engine.DestinationConfig{}, nil, instance("a", addr2, discovery.StateReady))
	r2.SetObserver(log2)
	resp, err := (&http.Client{Transport: r2.client("echo")}).Get("http://echo/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	d := log2.Recent()[0]
	if d.Attempts != 2 || len(d.Tries) != 2 || d.Tries[0].Status != 502 || d.Tries[1].Status != 200 {
		t.Errorf("retried decision %+v", d)
	}
}

type inboundRecorder struct {
	mu    sync.Mutex
	infos []observe.InboundInfo
}

func (o *inboundRecorder) StartInbound(ctx context.Context, in *observe.InboundInfo) context.Context {
	return context.WithValue(ctx, ctxKey{}, "inbound "+in.Carrier.Get("X-Trace"))
}

func (o *inboundRecorder) EndInbound(ctx context.Context, in *observe.InboundInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.infos = append(o.infos, *in)
}

func TestInboundObserver(t *testing.T) {
	var g inbound.Gate
	obs := &inboundRecorder{}
	g.SetObserver(obs)
	in := transport.NewInbound(&g)
	srv := httptest.NewServer(in.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(ctxKey{}) != "inbound t1" {
			t.Errorf("handler context %v, want the observer's", r.Context().Value(ctxKey{}))
		}
		switch r.URL.Path {
		case "/created":
			w.WriteHeader(http.StatusCreated)
		case "/flush":
			w.(http.Flusher).Flush()
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("ResponseController.Flush: %v", err)
			}
			io.WriteString(w, "flushed")
		case "/hijack":
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
			buf.Flush()
			conn.Close()
		case "/quiet":
		}
	})))
	defer srv.Close()
	for _, p := range []string{"/created", "/flush", "/quiet"} {
		req, _ := http.NewRequest("GET", srv.URL+p, nil)
		req.Header.Set("X-Trace", "t1")
		req.Header.Set(engine.SourceHeader, "front")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Hijack over a raw connection.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /hijack HTTP/1.1\r\nHost: x\r\nX-Trace: t1\r\n\r\n")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if !strings.HasPrefix(line, "HTTP/1.1 101") {
		t.Errorf("hijacked answer %q", line)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		obs.mu.Lock()
		n := len(obs.infos)
		obs.mu.Unlock()
		if n == 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	want := map[string]int{"/created": 201, "/flush": 200, "/quiet": 200, "/hijack": 101}
	if len(obs.infos) != 4 {
		t.Fatalf("%d requests observed, want 4", len(obs.infos))
	}
	for _, info := range obs.infos {
		if info.Status != want[info.Path] || info.Method != "GET" || info.Protocol != "http" || info.End.Before(info.Start) || info.Carrier != nil {
			t.Errorf("observed %+v, want status %d", info, want[info.Path])
		}
		if info.Path != "/hijack" && info.Source != "front" {
			t.Errorf("%s: source %q", info.Path, info.Source)
		}
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// Decisions are recorded when calls end but listed by when they started:
// a slow call that ended last is not the newest.
func TestDecisionsNewestFirstByStart(t *testing.T) {
	log := observe.NewDecisionLog(0)
	base := time.Now()
	for _, c := range []struct {
		path  string
		start time.Duration
	}{{"/slow", 0}, {"/fast-1", time.Millisecond}, {"/fast-2", 2 * time.Millisecond}} {
		info := &observe.CallInfo{Destination: "a", Method: "GET", Path: c.path, Start: base.Add(c.start), End: base.Add(c.start + time.Millisecond)}
		if c.path == "/slow" {
			defer log.EndCall(context.Background(), info) // ends last
			continue
		}
		log.EndCall(context.Background(), info)
	}
	t.Cleanup(func() {
		got := log.Recent()
		var paths []string
		for _, d := range got {
			paths = append(paths, d.Path)
		}
		if strings.Join(paths, " ") != "/fast-2 /fast-1 /slow" {
			t.Errorf("decisions %v, want newest start first", paths)
		}
	})
}

// InboundObservers calls each observer, ending in reverse order.
func TestInboundObservers(t *testing.T) {
	if observe.InboundObservers() != nil || observe.InboundObservers(nil) != nil {
		t.Error("InboundObservers of nothing is not nil")
	}
	var order []string
	mk := func(name string) observe.InboundObserver {
		return inboundFunc{
			start: func() { order = append(order, "start "+name) },
			end:   func() { order = append(order, "end "+name) },
		}
	}
	o := observe.InboundObservers(mk("a"), nil, mk("b"))
	in := &observe.InboundInfo{}
	o.EndInbound(o.StartInbound(context.Background(), in), in)
	if got := strings.Join(order, ", "); got != "start a, start b, end b, end a" {
		t.Errorf("order %s", got)
	}
}

type inboundFunc struct{ start, end func() }

func (f inboundFunc) StartInbound(ctx context.Context, _ *observe.InboundInfo) context.Context {
	f.start()
	return ctx
}

func (f inboundFunc) EndInbound(context.Context, *observe.InboundInfo) { f.end() }
