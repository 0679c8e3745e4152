package tap

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/transport/observe"
)

func testCall(path string, status int) *observe.CallInfo {
	now := time.Now()
	return &observe.CallInfo{Protocol: "http", Source: "frontend", Destination: "checkout", Method: "GET", Path: path,
		Route: "canary", Subset: "v2", Balancer: "least_request", Status: status, Endpoint: "127.0.0.1:1", Attempts: 1,
		Start: now.Add(-3 * time.Millisecond), End: now}
}

// run drives one call through the tap as the client engine would.
func run(tp *Tap, c *observe.CallInfo, h http.Header) {
	ctx := tp.StartCall(context.Background(), c)
	a := &observe.AttemptInfo{N: 1, Endpoint: c.Endpoint, Carrier: observe.HeaderCarrier(h)}
	ctx = tp.StartAttempt(ctx, c, a)
	a.Status, a.Outcome = c.Status, "ok"
	c.RecordAttempt(a)
	tp.EndAttempt(ctx, c, a)
	tp.EndCall(ctx, c)
}

func TestTapStreamsWhatTheFilterMatches(t *testing.T) {
	tp := New("frontend")
	tp.SetHeaders([]string{"x-request-id"})
	sub := tp.Subscribe(Filter{Path: "/orders", Status: "5xx"}, 0)
	defer sub.Close()
	h := http.Header{"X-Request-Id": {"abc"}, "Authorization": {"Bearer s3cr3t"}}
	run(tp, testCall("/orders/1", 200), h) // status does not match
	run(tp, testCall("/items", 503), h)    // path does not match
	run(tp, testCall("/orders/2", 503), h)
	select {
	case e := <-sub.Events():
		if e.Path != "/orders/2" || e.Status != 503 || !e.Failed || e.Direction != Outbound || e.Route != "canary" || e.Subset != "v2" {
			t.Errorf("event = %+v", e)
		}
		if e.Headers["x-request-id"] != "abc" || e.Headers["authorization"] != Redacted {
			t.Errorf("headers = %v: want x-request-id shown, authorization redacted", e.Headers)
		}
		for _, want := range []string{"route canary matched", "subset v2", "least_request picked 127.0.0.1:1"} {
			if !strings.Contains(e.Reason, want) {
				t.Errorf("reason %q lacks %q", e.Reason, want)
			}
		}
	default:
		t.Fatal("no event for a matching call")
	}
	select {
	case e := <-sub.Events():
		t.Errorf("an event the filter does not match: %+v", e)
	default:
	}
}

func TestInboundEvents(t *testing.T) {
	tp := New("checkout")
	sub := tp.Subscribe(Filter{Direction: Inbound}, 0)
	defer sub.Close()
	in := &observe.InboundInfo{Protocol: "grpc", Method: "/shop.Payments/Charge", Start: time.Now(),
		Carrier: observe.HeaderCarrier(http.Header{"Weft-Source": {"frontend"}, "Cookie": {"session=1"}})}
	ctx := tp.StartInbound(context.Background(), in)
	in.Carrier = nil
	in.Source, in.Status, in.End = "frontend", 14, time.Now()
	tp.EndInbound(ctx, in)
	e := <-sub.Events()
	if e.Destination != "checkout" || e.Source != "frontend" || e.Status != 14 || !e.Failed || e.Headers["cookie"] != Redacted {
		t.Errorf("event = %+v", e)
	}
	if f := (Filter{Path: "/shop.Payments/"}); !f.Match(&e) {
		t.Error("a gRPC event does not match the prefix of its method")
	}
}

// Past its rate, a subscription drops and counts; it never blocks.
func TestSubscriptionIsBounded(t *testing.T) {
	tp := New("a")
	sub := tp.Subscribe(Filter{}, 5)
	defer sub.Close()
	for range 100 {
		run(tp, testCall("/", 200), http.Header{})
	}
	got := len(sub.Events())
	if got < 5 || got > 6 {
		t.Errorf("%d events delivered at 5 a second, burst 5", got)
	}
	if d := sub.Dropped(); int(d)+got != 100 {
		t.Errorf("dropped %d, delivered %d: want 100 in all", d, got)
	}
	fast := tp.Subscribe(Filter{}, MaxRate)
	defer fast.Close()
	for range bufferSize + 10 {
		run(tp, testCall("/", 200), http.Header{})
	}
	if fast.Dropped() < 10 {
		t.Errorf("a full buffer dropped %d events, want at least 10", fast.Dropped())
	}
}

// Nobody watching: the tap adds nothing to a request, not even an
// allocation, and hands nothing out.
func TestUnwatchedTapCostsNothing(t *testing.T) {
	tp := New("a")
	c := testCall("/", 200)
	in := &observe.InboundInfo{Protocol: "http", Start: time.Now(), End: time.Now(), Carrier: observe.HeaderCarrier(http.Header{})}
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() {
		cctx := tp.StartCall(ctx, c)
		tp.EndCall(cctx, c)
		ictx := tp.StartInbound(ctx, in)
		tp.EndInbound(ictx, in)
	}); n != 0 {
		t.Errorf("%v allocations per request while nobody watches", n)
	}
	if got := tp.StartCall(ctx, c); got != ctx {
		t.Error("StartCall changed the context while nobody watches")
	}
	sub := tp.Subscribe(Filter{}, 0)
	sub.Close()
	sub.Close()
	if tp.Watching() != 0 {
		t.Errorf("Watching() = %d after Close", tp.Watching())
	}
}

func TestParseFilter(t *testing.T) {
	for q, ok := range map[string]bool{
		"service=a&path=/x&status=5xx&direction=in&protocol=grpc": true,
		"status=503": true, "status=failed": true, "status=FAILED": true,
		"status=abc": false, "status=700": false, "direction=up": false, "protocol=ws": false,
	} {
		v, _ := url.ParseQuery(q)
		if _, err := ParseFilter(v); (err == nil) != ok {
			t.Errorf("ParseFilter(%s): %v", q, err)
		}
	}
}

func TestFilterStatusClasses(t *testing.T) {
	httpEvent := func(s int) *Event { return &Event{Protocol: "http", Status: s, Failed: s == 0 || s >= 500} }
	grpcEvent := func(c int) *Event { return &Event{Protocol: "grpc", Status: c, Failed: c == 14} }
	for _, tc := range []struct {
		status string
		e      *Event
		want   bool
	}{
		{"5xx", httpEvent(503), true}, {"5xx", httpEvent(0), true}, {"5xx", httpEvent(404), false},
		{"4xx", httpEvent(404), true}, {"2xx", httpEvent(204), true}, {"503", httpEvent(503), true},
		{"5xx", grpcEvent(14), true}, {"2xx", grpcEvent(0), true}, {"4xx", grpcEvent(5), true}, {"4xx", grpcEvent(14), false},
	} {
		f := Filter{Status: tc.status}
		if got := f.Match(tc.e); got != tc.want {
			t.Errorf("status %s on %+v: %v, want %v", tc.status, tc.e, got, tc.want)
		}
	}
}

func FuzzFilter(f *testing.F) {
	f.Add("service=a&path=/x&status=5xx", "/x/y", 503)
	f.Add("status=failed&protocol=grpc", "/pkg.S/M", 14)
	f.Fuzz(func(t *testing.T, query, path string, status int) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		flt, err := ParseFilter(v)
		if err != nil {
			return
		}
		e := &Event{Protocol: flt.Protocol, Path: path, Method: path, Status: status, Source: flt.Service, Direction: flt.Direction}
		flt.Match(e)
		if flt.Path == "" && flt.Status == "" && flt.Method == "" && !flt.Match(e) {
			t.Fatalf("filter %+v refused %+v, which it should match", flt, e)
		}
	})
}

// BenchmarkTap measures a call through the tap's observer methods while
// nobody watches, and while a subscription that matches nothing is open.
func BenchmarkTap(b *testing.B) {
	c := testCall("/", 200)
	h := http.Header{"X-Request-Id": {"1"}}
	b.Run("unwatched", func(b *testing.B) {
		tp := New("a")
		b.ReportAllocs()
		for b.Loop() {
			run(tp, c, h)
		}
	})
	b.Run("watched-filtered-out", func(b *testing.B) {
		tp := New("a")
		sub := tp.Subscribe(Filter{Service: "nobody"}, 0)
		defer sub.Close()
		b.ReportAllocs()
		for b.Loop() {
			run(tp, c, h)
		}
	})
}
