package stats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/weftmesh/weft/transport/observe"
)

// clock is a manual clock for the recorder.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func call(dest string, status int, d time.Duration, at time.Time) *observe.CallInfo {
	return &observe.CallInfo{Protocol: "http", Source: "a", Destination: dest, Status: status, Start: at.Add(-d), End: at}
}

func TestBucketOfMatchesBounds(t *testing.T) {
	for i, b := range bounds {
		if got := bucketOf(int64(b)); got != i {
			t.Errorf("bucketOf(%v µs) = %d, want %d (on the bound)", b, got, i)
		}
		if got := bucketOf(int64(b) + 1); got != i+1 {
			t.Errorf("bucketOf(%v µs + 1) = %d, want %d", b, got, i+1)
		}
	}
	if got := bucketOf(0); got != 0 {
		t.Errorf("bucketOf(0) = %d", got)
	}
	if got := bucketOf(int64(time.Hour / time.Microsecond)); got != NumBuckets-1 {
		t.Errorf("bucketOf(1h) = %d, want the last bucket", got)
	}
}

// A quantile lies in the bucket that holds the true quantile.
func TestQuantileWithinItsBucket(t *testing.T) {
	var h Histogram
	var values []int64
	for i := 1; i <= 1000; i++ {
		v := int64(i) * 137 // 137 µs to 137 ms
		values = append(values, v)
		h[bucketOf(v)]++
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		exact := values[int(q*float64(len(values)))-1]
		b := bucketOf(exact)
		lo, hi := 0.0, bounds[b]
		if b > 0 {
			lo = bounds[b-1]
		}
		got := h.Quantile(q) * 1000
		if got < lo || got > hi {
			t.Errorf("p%v = %.0f µs, want within the bucket of the exact %d µs: [%.0f, %.0f]", q*100, got, exact, lo, hi)
		}
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 {
		t.Error("an empty histogram has a quantile")
	}
}

// Percentiles of merged nodes come from the merged histogram: one node
// with 98 fast calls and one with 2 slow ones make a p99 that is slow,
// where averaging their p99s would give neither.
func TestMergedPercentilesAreNotAveraged(t *testing.T) {
	c := newClock()
	fast := NewRecorder(Config{Service: "web", Node: "web-1", Now: c.now})
	slow := NewRecorder(Config{Service: "web", Node: "web-2", Now: c.now})
	for range 98 {
		fast.EndCall(context.Background(), call("db", 200, time.Millisecond, c.t))
	}
	for range 2 {
		slow.EndCall(context.Background(), call("db", 200, time.Second, c.t))
	}
	v := Merge(c.t, []Snapshot{roundTrip(t, fast.Snapshot()), roundTrip(t, slow.Snapshot())})
	if len(v.Edges) != 1 {
		t.Fatalf("edges = %+v", v.Edges)
	}
	e := v.Edges[0]
	if e.Source != "web" || e.Destination != "db" || e.Requests != 100 {
		t.Fatalf("edge = %+v", e)
	}
	if e.P50Ms > 1.5 {
		t.Errorf("p50 = %.2f ms, want about 1 ms", e.P50Ms)
	}
	if e.P99Ms < 700 {
		t.Errorf("p99 = %.2f ms, want about 1 s: the slowest 2%% are slow", e.P99Ms)
	}
	avg := (fast.summary(t, c.t).P99Ms + slow.summary(t, c.t).P99Ms) / 2
	if e.P99Ms == avg {
		t.Errorf("p99 %.2f is the average of the nodes' p99s", e.P99Ms)
	}
}

func (r *Recorder) summary(t *testing.T, now time.Time) Summary {
	v := Merge(now, []Snapshot{r.Snapshot()})
	if len(v.Edges) != 1 {
		t.Fatalf("edges = %+v", v.Edges)
	}
	return v.Edges[0].Summary
}

func roundTrip(t *testing.T, s Snapshot) Snapshot {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out Snapshot
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if err := out.Check(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRecorderCountsEdgesAndFailures(t *testing.T) {
	c := newClock()
	r := NewRecorder(Config{Service: "checkout", Node: "checkout-1", Now: c.now})
	ctx := context.Background()
	r.EndCall(ctx, call("payments", 200, 5*time.Millisecond, c.t))
	r.EndCall(ctx, call("payments", 503, 5*time.Millisecond, c.t))
	r.EndCall(ctx, &observe.CallInfo{Protocol: "http", Destination: "payments", Err: errors.New("refused"), Start: c.t, End: c.t})
	r.EndCall(ctx, call("payments", 404, 5*time.Millisecond, c.t))
	r.EndCall(ctx, &observe.CallInfo{Protocol: "grpc", Destination: "ledger", Status: 14, Start: c.t, End: c.t}) // Unavailable
	r.EndCall(ctx, &observe.CallInfo{Protocol: "grpc", Destination: "ledger", Status: 5, Start: c.t, End: c.t})  // NotFound
	r.EndInbound(ctx, &observe.InboundInfo{Protocol: "http", Source: "frontend", Status: 200, Start: c.t, End: c.t})
	r.EndInbound(ctx, &observe.InboundInfo{Protocol: "http", Source: "", Status: 500, Start: c.t, End: c.t})

	v := Merge(c.t, []Snapshot{r.Snapshot()})
	got := map[string]Edge{}
	for _, e := range v.Edges {
		got[e.Source+">"+e.Destination] = e
	}
	if e := got["checkout>payments"]; e.Requests != 4 || e.Failures != 2 || e.SuccessRate != 0.5 {
		t.Errorf("checkout → payments = %+v, want 4 requests, 2 failed", e)
	}
	if e := got["checkout>ledger"]; e.Requests != 2 || e.Failures != 1 {
		t.Errorf("checkout → ledger = %+v, want 2 requests, 1 failed (Unavailable, not NotFound)", e)
	}
	if e := got[ExternalCaller+">checkout"]; e.Requests != 1 || e.Failures != 1 {
		t.Errorf("external → checkout = %+v", e)
	}
	if len(v.Services) != 1 || v.Services[0].Requests != 2 || v.Services[0].Failures != 1 {
		t.Errorf("services = %+v, want checkout with 2 served, 1 failed", v.Services)
	}
	if p := v.Services[0].Points; len(p) != WindowBuckets+1 || p[len(p)-1].RPS == 0 {
		t.Errorf("points = %d, last %+v", len(p), p[len(p)-1])
	}
}

// An edge is counted by its caller when an instance of the caller sent
// its counts, else by its callee, never by both: payments served 6
// requests from checkout, which counted its own 4 calls (made from the one
// instance that sent counts), and 3 from loadgen, which sent none.
func TestCalleeCountsEdgesOfCallersThatSentNone(t *testing.T) {
	c := newClock()
	ctx := context.Background()
	payments := NewRecorder(Config{Service: "payments", Node: "payments-1", Now: c.now})
	served := func(source string, status int) {
		payments.EndInbound(ctx, &observe.InboundInfo{Protocol: "http", Source: source, Status: status, Start: c.t.Add(-time.Millisecond), End: c.t})
	}
	for i := range 6 {
		status := 200
		if i%3 == 2 {
			status = 500
		}
		served("checkout", status)
	}
	for range 3 {
		served("loadgen", 200)
	}
	served("", 200)
	checkout := NewRecorder(Config{Service: "checkout", Node: "checkout-1", Now: c.now})
	for range 4 {
		checkout.EndCall(ctx, call("payments", 200, time.Millisecond, c.t))
	}
	edges := func(snaps ...Snapshot) map[string]Edge {
		got := map[string]Edge{}
		for _, e := range Merge(c.t, snaps).Edges {
			got[e.Source+">"+e.Destination] = e
		}
		return got
	}

	both := edges(roundTrip(t, payments.Snapshot()), roundTrip(t, checkout.Snapshot()))
	for key, want := range map[string]struct {
		n, failed uint64
		by        string
	}{
		"checkout>payments":          {4, 0, CountedByCaller},
		"loadgen>payments":           {3, 0, CountedByCallee},
		ExternalCaller + ">payments": {1, 0, CountedByCallee},
	} {
		if e := both[key]; e.Requests != want.n || e.Failures != want.failed || e.CountedBy != want.by {
			t.Errorf("with both snapshots, %s = %d requests, %d failed, counted by %q; want %d, %d, %q", key, e.Requests, e.Failures, e.CountedBy, want.n, want.failed, want.by)
		}
	}
	if len(both) != 3 {
		t.Errorf("edges %v, want 3", both)
	}
	calleeOnly := edges(roundTrip(t, payments.Snapshot()))
	if e := calleeOnly["checkout>payments"]; e.Requests != 6 || e.Failures != 2 || e.CountedBy != CountedByCallee {
		t.Errorf("without checkout's snapshot, checkout → payments = %+v, want 6 requests, 2 failed, counted by the callee", e)
	}
}

// Counts leave the window as time passes; a bucket reused after a full
// turn starts from zero.
func TestWindowForgetsOldBuckets(t *testing.T) {
	c := newClock()
	r := NewRecorder(Config{Service: "a", Node: "a-1", Now: c.now})
	r.EndCall(context.Background(), call("b", 200, time.Millisecond, c.t))
	c.t = c.t.Add((WindowBuckets + 1) * BucketSeconds * time.Second)
	if s := r.Snapshot(); len(s.Series) != 0 {
		t.Fatalf("a bucket older than the window is still served: %+v", s.Series)
	}
	r.EndCall(context.Background(), call("b", 200, time.Millisecond, c.t))
	s := r.Snapshot()
	if len(s.Series) != 1 || len(s.Series[0].Buckets) != 1 || s.Series[0].Buckets[0].N != 1 {
		t.Fatalf("after a full turn: %+v", s.Series)
	}
	// The rate is over the time since the first request, at least one
	// bucket: one request now is 1/5 per second, not 1/60.
	if e := Merge(c.t, []Snapshot{s}).Edges[0]; e.RPS != 1.0/BucketSeconds {
		t.Errorf("rps = %v, want %v", e.RPS, 1.0/BucketSeconds)
	}
}

func TestSeriesAreBounded(t *testing.T) {
	c := newClock()
	r := NewRecorder(Config{Service: "a", Node: "a-1", Now: c.now})
	for i := range maxSeries + 50 {
		r.EndInbound(context.Background(), &observe.InboundInfo{Protocol: "http", Source: fmt.Sprintf("caller-%d", i), Status: 200, Start: c.t, End: c.t})
	}
	s := r.Snapshot()
	if len(s.Series) > maxSeries+1 {
		t.Fatalf("%d series, want at most %d", len(s.Series), maxSeries+1)
	}
	var other uint64
	for _, ser := range s.Series {
		if ser.Peer == OtherPeer {
			other = ser.Buckets[0].N
		}
	}
	if other != 50 {
		t.Errorf("%d requests counted under %s, want 50", other, OtherPeer)
	}
}

func TestCheckRefusesOtherFormats(t *testing.T) {
	good := Snapshot{Version: SnapshotVersion, BucketSeconds: BucketSeconds, Buckets: NumBuckets}
	for name, mutate := range map[string]func(*Snapshot){
		"version":   func(s *Snapshot) { s.Version = 2 },
		"buckets":   func(s *Snapshot) { s.Buckets = 10 },
		"direction": func(s *Snapshot) { s.Series = []Series{{Dir: "up"}} },
		"odd hist":  func(s *Snapshot) { s.Series = []Series{{Dir: In, Buckets: []WireBucket{{Hist: []uint64{1}}}}} },
		"bad index": func(s *Snapshot) {
			s.Series = []Series{{Dir: In, Buckets: []WireBucket{{Hist: []uint64{NumBuckets, 1}}}}}
		},
	} {
		s := good
		mutate(&s)
		if s.Check() == nil {
			t.Errorf("%s: Check accepted %+v", name, s)
		}
	}
	if err := good.Check(); err != nil {
		t.Error(err)
	}
}

// Recording a request allocates nothing.
func TestRecordingAllocatesNothing(t *testing.T) {
	r := NewRecorder(Config{Service: "a", Node: "a-1"})
	ctx := context.Background()
	now := time.Now()
	c := call("b", 200, time.Millisecond, now)
	in := &observe.InboundInfo{Protocol: "http", Source: "c", Status: 200, Start: now, End: now}
	r.EndCall(ctx, c)
	r.EndInbound(ctx, in)
	if n := testing.AllocsPerRun(1000, func() {
		ctx := r.StartCall(ctx, c)
		r.EndCall(ctx, c)
		ctx = r.StartInbound(ctx, in)
		r.EndInbound(ctx, in)
	}); n != 0 {
		t.Errorf("%v allocations per call and request, want 0", n)
	}
}

func BenchmarkRecordCall(b *testing.B) {
	r := NewRecorder(Config{Service: "a", Node: "a-1"})
	ctx := context.Background()
	c := call("b", 200, time.Millisecond, time.Now())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.EndCall(ctx, c)
		}
	})
}

// A mesh of 20 services each calling 5 others, every bucket of the window
// busy: the size of one node's snapshot.
func BenchmarkSnapshotSize(b *testing.B) {
	c := newClock()
	r := NewRecorder(Config{Service: "a", Node: "a-1", Now: c.now})
	for range WindowBuckets + 1 {
		for d := range 5 {
			for lat := 1; lat < 200; lat *= 2 {
				r.EndCall(context.Background(), call(fmt.Sprintf("svc-%d", d), 200, time.Duration(lat)*time.Millisecond, c.t))
			}
		}
		for s := range 4 {
			r.EndInbound(context.Background(), &observe.InboundInfo{Protocol: "http", Source: fmt.Sprintf("caller-%d", s), Status: 200, Start: c.t.Add(-3 * time.Millisecond), End: c.t})
		}
		c.t = c.t.Add(BucketSeconds * time.Second)
	}
	var size int
	b.ReportAllocs()
	for b.Loop() {
		buf, _ := json.Marshal(r.Snapshot())
		size = len(buf)
	}
	b.ReportMetric(float64(size), "bytes/snapshot")
}
