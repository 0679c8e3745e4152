package transport_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/transport"
	"github.com/weftmesh/weft/transport/route"
)

// countingTransport counts attempts per endpoint address.
type countingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[r.URL.Host]++
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

func (c *countingTransport) count(addr string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[addr]
}

// newRouter returns a router over the given instances with round robin
// balancing, and the attempt counter behind it.
func newRouter(t *testing.T, cfg engine.DestinationConfig, instances ...*discovery.Instance) (*router, *countingTransport) {
	t.Helper()
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	ct := &countingTransport{base: base, n: make(map[string]int)}
	r := newTestRouter(routerConfig{Base: ct})
	if cfg.LoadBalancer == "" {
		cfg.LoadBalancer = "round_robin"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if err := r.UpdateRouting(routing{
		Destinations: map[string]engine.DestinationConfig{"echo": cfg},
		Default:      engine.DestinationConfig{LoadBalancer: "least_request", Timeout: time.Second},
	}); err != nil {
		t.Fatal(err)
	}
	r.UpdateCatalog(discovery.NewView(1, instances...))
	return r, ct
}

func instance(node, addr string, state discovery.State) *discovery.Instance {
	return &discovery.Instance{
		Node: node, Service: "echo", State: state, Seq: 1,
		Endpoints: []discovery.Endpoint{{Protocol: "http", Addr: addr}},
	}
}

// refusedAddr returns a loopback address where nothing listens.
func refusedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func echoServer(t *testing.T) (*httptest.Server, string) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.Host, b)
	}))
	t.Cleanup(srv.Close)
	return srv, srv.Listener.Addr().String()
}

func do(t *testing.T, c *http.Client, req *http.Request) (string, error) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestConnectFailureRetriedOnceOnAnotherEndpoint(t *testing.T) {
	_, live := echoServer(t)
	dead := refusedAddr(t)
	r, attempts := newRouter(t, engine.DestinationConfig{}, instance("a", dead, discovery.StateReady), instance("b", live, discovery.StateReady))
	c := &http.Client{Transport: r.client("echo")}

	for i := range 50 {
		// A streamed body without GetBody: replayable only because the
		// refused connection never read it.
		body := io.NopCloser(strings.NewReader(fmt.Sprint("payload-", i)))
		req, _ := http.NewRequest("POST", "http://echo/charge", body)
		got, err := do(t, c, req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if want := fmt.Sprintf("POST echo payload-%d", i); got != want {
			t.Fatalf("request %d: server saw %q, want %q", i, got, want)
		}
	}
	// The refused endpoint was marked down after its first failure.
	if n := attempts.count(dead); n != 1 {
		t.Errorf("dead endpoint was tried %d times, want 1", n)
	}
}

func TestEveryEndpointRefusing(t *testing.T) {
	r, attempts := newRouter(t, engine.DestinationConfig{}, instance("a", refusedAddr(t), discovery.StateReady), instance("b", refusedAddr(t), discovery.StateReady), instance("c", refusedAddr(t), discovery.StateReady))
	c := &http.Client{Transport: r.client("echo")}
	_, err := c.Get("http://echo/")
	if err == nil || !strings.Contains(err.Error(), "echo") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v, want a refused connection naming the service", err)
	}
	total := 0
	for _, n := range attempts.n {
		total += n
	}
	if total != 2 {
		t.Errorf("%d attempts, want 2 (the first and one retry)", total)
	}
}

func TestOnlyReadyEndpointsArePicked(t *testing.T) {
	_, live := echoServer(t)
	_, draining := echoServer(t)
	_, starting := echoServer(t)
	r, attempts := newRouter(t, engine.DestinationConfig{},
		instance("a", live, discovery.StateReady),
		instance("b", draining, discovery.StateDraining),
		instance("c", starting, discovery.StateStarting))
	c := &http.Client{Transport: r.client("echo")}
	for range 20 {
		req, _ := http.NewRequest("GET", "http://echo/", nil)
		if _, err := do(t, c, req); err != nil {
			t.Fatal(err)
		}
	}
	if attempts.count(live) != 20 || attempts.count(draining)+attempts.count(starting) != 0 {
		t.Errorf("attempts %v, want all 20 on the ready endpoint", attempts.n)
	}
	if got := r.Endpoints("echo"); len(got) != 1 || got[0] != live {
		t.Errorf("Endpoints = %v, want [%s]", got, live)
	}

	r.UpdateCatalog(discovery.NewView(2, instance("b", draining, discovery.StateDraining)))
	_, err := c.Get("http://echo/")
	if !errors.Is(err, engine.ErrNoEndpoint) || !strings.Contains(err.Error(), "none ready") {
		t.Errorf("err = %v, want ErrNoEndpoint saying none is ready", err)
	}
}

func TestDestinationTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	r, _ := newRouter(t, engine.DestinationConfig{Timeout: 50 * time.Millisecond}, instance("a", srv.Listener.Addr().String(), discovery.StateReady))
	c := &http.Client{Transport: r.client("echo")}
	start := time.Now()
	_, err := c.Get("http://echo/")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

func TestEgress(t *testing.T) {
	outside, addr := echoServer(t)
	host, _, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		name  string
		allow []string
		ok    bool
	}{
		{"absent list allows any host", nil, true},
		{"empty list forbids all", []string{}, false},
		{"listed host", []string{host}, true},
		{"other host", []string{"api.example.com"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRouter(routerConfig{})
			defer r.CloseIdleConnections()
			err := r.UpdateRouting(routing{
				Default: engine.DestinationConfig{LoadBalancer: "round_robin", Timeout: time.Second},
				Egress:  transport.EgressConfig{Allow: tc.allow},
			})
			if err != nil {
				t.Fatal(err)
			}
			c := &http.Client{Transport: r.client("echo")}
			resp, err := c.Get(outside.URL + "/x")
			if tc.ok {
				if err != nil {
					t.Fatalf("egress refused: %v", err)
				}
				resp.Body.Close()
				return
			}
			if !errors.Is(err, transport.ErrEgressDenied) || !strings.Contains(err.Error(), host) {
				t.Fatalf("err = %v, want ErrEgressDenied naming %s", err, host)
			}
		})
	}
}

func TestUnknownLoadBalancerRejected(t *testing.T) {
	r := newTestRouter(routerConfig{})
	defer r.CloseIdleConnections()
	err := r.UpdateRouting(routing{
		Destinations: map[string]engine.DestinationConfig{"echo": {LoadBalancer: "fastest", Timeout: time.Second}},
		Default:      engine.DestinationConfig{LoadBalancer: "round_robin", Timeout: time.Second},
	})
	if err == nil || !strings.Contains(err.Error(), "fastest") {
		t.Fatalf("err = %v", err)
	}
}

func TestLargeBodiesAreNotReplayed(t *testing.T) {
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		io.Copy(io.Discard, r.Body)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	r, _ := newRouter(t, engine.DestinationConfig{Retries: &retry.Config{Attempts: 3, On: []string{"5xx"}, Backoff: retry.Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond}}},
		instance("a", srv.Listener.Addr().String(), discovery.StateReady))
	c := &http.Client{Transport: r.client("echo")}
	for _, tc := range []struct {
		size  int
		tries int64
	}{{1 << 10, 3}, {100 << 10, 1}} {
		seen.Store(0)
		// A streamed body (no GetBody): Weft buffers up to 64 KiB itself.
		req, _ := http.NewRequest("PUT", "http://echo/blob", io.NopCloser(strings.NewReader(strings.Repeat("x", tc.size))))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := seen.Load(); got != tc.tries {
			t.Errorf("a %d-byte PUT was sent %d times, want %d", tc.size, got, tc.tries)
		}
	}
}

func TestHedgedRouteStillRetriesAFastFailure(t *testing.T) {
	_, live := echoServer(t)
	dead := refusedAddr(t)
	r := newTestRouter(routerConfig{})
	defer r.Close()
	err := r.UpdateRouting(routing{
		Destinations: map[string]engine.DestinationConfig{"echo": {LoadBalancer: "round_robin", Timeout: 5 * time.Second}},
		Default:      engine.DestinationConfig{LoadBalancer: "round_robin", Timeout: 5 * time.Second},
		Routes:       map[string]route.Config{"echo": {Routes: []route.Route{{Name: "hedged", Hedge: &retry.HedgeConfig{Delay: time.Second}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.UpdateCatalog(discovery.NewView(1, instance("a", dead, discovery.StateReady), instance("b", live, discovery.StateReady)))
	c := &http.Client{Transport: r.client("echo")}
	for i := range 4 {
		start := time.Now()
		req, _ := http.NewRequest("GET", "http://echo/", nil)
		if _, err := do(t, c, req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("request %d took %v: the refused try waited for the hedge instead of being retried", i, d)
		}
	}
}

func TestInjectedDelay(t *testing.T) {
	_, live := echoServer(t)
	r := newTestRouter(routerConfig{})
	defer r.Close()
	err := r.UpdateRouting(routing{
		Destinations: map[string]engine.DestinationConfig{"echo": {LoadBalancer: "round_robin", Timeout: 5 * time.Second}},
		Default:      engine.DestinationConfig{LoadBalancer: "round_robin", Timeout: 5 * time.Second},
		Routes: map[string]route.Config{"echo": {Routes: []route.Route{
			{Name: "slow", Match: route.Match{PathPrefix: "/slow"}, Fault: &route.Fault{Delay: &route.FaultDelay{Duration: 80 * time.Millisecond, Percent: 100}}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.UpdateCatalog(discovery.NewView(1, instance("a", live, discovery.StateReady)))
	c := &http.Client{Transport: r.client("echo")}
	for _, tc := range []struct {
		path    string
		delayed bool
	}{{"/slow", true}, {"/other", false}} {
		start := time.Now()
		req, _ := http.NewRequest("GET", "http://echo"+tc.path, nil)
		if _, err := do(t, c, req); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); tc.delayed && d < 80*time.Millisecond {
			t.Errorf("%s took %v, want the injected 80ms delay", tc.path, d)
		}
	}
}
