package mesh_test

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/weftmesh/weft/internal/race"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// roundTripAllocs returns the allocations of one GET of url through c,
// client and server together: the least of a few measurements, so that
// the gossip and timers running beside the requests do not count.
func roundTripAllocs(t *testing.T, c *http.Client, url string) float64 {
	return roundTripAllocsIn(t, context.Background(), c, url)
}

// roundTripAllocsIn is roundTripAllocs with requests made in ctx.
func roundTripAllocsIn(t *testing.T, ctx context.Context, c *http.Client, url string) float64 {
	t.Helper()
	get := func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for range 50 {
		get() // connections made, caches filled
	}
	least := math.Inf(1)
	for range 5 {
		least = min(least, testing.AllocsPerRun(200, get))
	}
	return least
}

// netHTTPAllocs returns the allocations of one GET through plain
// net/http on kept-alive connections, in plaintext or with Go's own
// mutual TLS: the baselines of the guards below.
func netHTTPAllocs(t *testing.T, mtls bool) float64 {
	return netHTTPAllocsIn(t, context.Background(), mtls)
}

// netHTTPAllocsIn is netHTTPAllocs with requests made in ctx.
func netHTTPAllocsIn(t *testing.T, ctx context.Context, mtls bool) float64 {
	srv := httptest.NewUnstartedServer(okHandler)
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	if mtls {
		srv.TLS, tr.TLSClientConfig = rawMTLS(t)
		srv.StartTLS()
	} else {
		srv.Start()
	}
	defer srv.Close()
	defer tr.CloseIdleConnections()
	return roundTripAllocsIn(t, ctx, &http.Client{Transport: tr}, srv.URL)
}

// The allocations Weft adds to a request, client and server together, as
// docs/BENCHMARKS.md gives them, may not grow unnoticed. Each limit is the
// count measured when it was set; a change that lowers a count should
// lower its limit too.
func TestRequestAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several nodes")
	}
	if race.Enabled {
		t.Skip("the race detector changes allocation counts; scripts/test runs this test without it")
	}
	base, baseMTLS := netHTTPAllocs(t, false), netHTTPAllocs(t, true)
	// weft measures client → echo or, relayed, client → relay → echo,
	// the relay's handler calling echo with its request's context.
	weftVia := func(admin bool, tp *sdktrace.TracerProvider, policy string, relayed bool) float64 {
		m := meshtest.New(t)
		m.PolicyFile = policy
		cfg := func(service string) mesh.Config {
			c := mesh.Config{Service: service}
			if admin {
				c.AdminAddr = "127.0.0.1:0"
			}
			if tp != nil {
				c.TracerProvider = tp
			}
			return c
		}
		m.Serve(cfg("echo"), okHandler)
		client := m.Start(cfg("client"))
		meshtest.WaitEndpoints(t, client, "echo", 1)
		if !relayed {
			return roundTripAllocs(t, client.NewClient("echo"), "http://echo/")
		}
		var toEcho atomic.Pointer[http.Client]
		relay := m.Serve(cfg("relay"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, _ := http.NewRequestWithContext(r.Context(), "GET", "http://echo/", nil)
			resp, err := toEcho.Load().Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			io.Copy(w, resp.Body)
			resp.Body.Close()
		}))
		meshtest.WaitEndpoints(t, relay.Node, "echo", 1)
		toEcho.Store(relay.NewClient("echo"))
		meshtest.WaitEndpoints(t, client, "relay", 1)
		return roundTripAllocs(t, client.NewClient("relay"), "http://relay/")
	}
	weft := func(admin bool, tp *sdktrace.TracerProvider, policy string) float64 {
		return weftVia(admin, tp, policy, false)
	}
	_, caDir := meshtest.DevCA(t)
	plain := weft(false, nil, "")
	metrics := weft(true, nil, "")
	unsampled := weft(true, ratioTracer(t, 0), "")
	sampled := weft(true, ratioTracer(t, 1), "")
	mtls := weft(false, nil, meshtest.SecurePolicy(t, caDir, ""))
	h2 := weft(false, nil, writePolicy(t, "version: 1\nmesh: {name: test}\ndefaults: {protocol: h2}\n"))
	relayed := weftVia(true, nil, "", true)
	// A caller whose context can be cancelled, as every server handler's
	// can: the call's deadline registers with it, as net/http's transport
	// registers its own context.
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	baseCancellable := netHTTPAllocsIn(t, cctx, false)
	cancellable := func() float64 {
		m := meshtest.New(t)
		m.Serve(mesh.Config{Service: "echo"}, okHandler)
		client := m.Start(mesh.Config{Service: "client"})
		meshtest.WaitEndpoints(t, client, "echo", 1)
		return roundTripAllocsIn(t, cctx, client.NewClient("echo"), "http://echo/")
	}()
	relayedUnsampled := weftVia(true, ratioTracer(t, 0), "", true)
	t.Logf("allocations per request: net/http %v, with mutual TLS %v, in a cancellable context %v; Weft %v, with metrics %v, traced 0%% %v, traced 100%% %v, mutual TLS %v, HTTP/2 %v, in a cancellable context %v; relayed with metrics %v, traced 0%% %v",
		base, baseMTLS, baseCancellable, plain, metrics, unsampled, sampled, mtls, h2, cancellable, relayed, relayedUnsampled)
	for _, c := range []struct {
		what      string
		got, over float64
		limit     float64
	}{
		// Weft's own HTTP/1.1 transport allocates less than net/http's.
		{"Weft over net/http", plain, base, -15},
		{"metrics over none", metrics, plain, 1},
		{"tracing, 0% sampled, over tracing off", unsampled, metrics, 4},
		{"tracing, 100% sampled, over net/http", sampled, base, -4},
		{"Weft with mutual TLS over net/http with mutual TLS", mtls, baseMTLS, -15},
		{"Weft over net/http, the caller's context cancellable", cancellable, baseCancellable, -12},
		// HTTP/2 goes through net/http's transport. Its count moves by one
		// between runs (87 or 88): flow-control frames now and then.
		{"Weft over HTTP/2 over net/http over HTTP/1.1", h2, base, 27},
		{"tracing, 0% sampled, over tracing off, relayed by a service", relayedUnsampled, relayed, 6},
	} {
		if added := c.got - c.over; added > c.limit {
			t.Errorf("%s: %+v allocations per request, want at most %+v", c.what, added, c.limit)
		}
	}
}
