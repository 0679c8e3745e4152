package stats

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/transport/observe"
)

// Window: a Recorder keeps WindowBuckets buckets of BucketSeconds each,
// five minutes, the span of the dashboard's charts.
const (
	BucketSeconds = 5
	WindowBuckets = 60
)

// Directions of a series.
const (
	// Out counts the calls the node made to a service.
	Out = "out"
	// In counts the requests the node served, by caller.
	In = "in"
)

// maxSeries bounds the series a Recorder keeps. Callers' service names
// come from the network (an unverified caller may assert any), so the
// series of callers past the bound are counted under [OtherPeer].
const maxSeries = 256

// OtherPeer is the peer name of the series that counts requests from
// callers past the bound on series. Unknown callers, which asserted no
// service, have the peer name "".
const OtherPeer = "(other)"

// maxPeerName bounds a peer's name as kept; service names are DNS labels.
const maxPeerName = 63

// Config describes the node a Recorder counts for.
type Config struct {
	// Service is the service the node hosts; Node its member name.
	Service, Node string
	// Now returns the current time. If nil, time.Now.
	Now func() time.Time
}

// Recorder counts a node's calls and requests served. It implements
// [observe.CallObserver] and [observe.InboundObserver]; all methods
// are safe for concurrent use, and recording never blocks for longer than
// another request's recording.
type Recorder struct {
	cfg    Config
	series atomic.Pointer[map[seriesKey]*series]
	mu     sync.Mutex // serializes adding series
}

var (
	_ observe.CallObserver    = (*Recorder)(nil)
	_ observe.InboundObserver = (*Recorder)(nil)
)

type seriesKey struct {
	dir, peer, protocol string
}

// series is one edge's buckets, indexed by epoch modulo the window.
type series struct {
	mu      sync.Mutex
	buckets [WindowBuckets + 1]bucket
}

type bucket struct {
	epoch    int64 // unix seconds / BucketSeconds; 0 for an unused bucket
	n, fails uint64
	hist     Histogram
}

// NewRecorder returns a Recorder for the node cfg describes.
func NewRecorder(cfg Config) *Recorder {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Recorder{cfg: cfg}
	empty := map[seriesKey]*series{}
	r.series.Store(&empty)
	return r
}

// StartCall implements [observe.CallObserver]; it does nothing.
func (r *Recorder) StartCall(ctx context.Context, _ *observe.CallInfo) context.Context { return ctx }

// StartAttempt implements [observe.CallObserver]; it does nothing.
func (r *Recorder) StartAttempt(ctx context.Context, _ *observe.CallInfo, _ *observe.AttemptInfo) context.Context {
	return ctx
}

// EndAttempt implements [observe.CallObserver]; it does nothing.
func (r *Recorder) EndAttempt(context.Context, *observe.CallInfo, *observe.AttemptInfo) {}

// EndCall implements [observe.CallObserver]: it counts the call on the
// edge to its destination, as failed when it got no answer or a server
// error (HTTP 5xx; a gRPC code that stands for one).
func (r *Recorder) EndCall(_ context.Context, c *observe.CallInfo) {
	failed := Failed(c.Protocol, c.Status, c.Err != nil)
	r.record(seriesKey{Out, c.Destination, c.Protocol}, c.End.Sub(c.Start), failed)
}

// StartInbound implements [observe.InboundObserver]; it does nothing.
func (r *Recorder) StartInbound(ctx context.Context, _ *observe.InboundInfo) context.Context {
	return ctx
}

// EndInbound implements [observe.InboundObserver]: it counts the request
// on the edge from its caller.
func (r *Recorder) EndInbound(_ context.Context, in *observe.InboundInfo) {
	r.record(seriesKey{In, in.Source, in.Protocol}, in.End.Sub(in.Start), Failed(in.Protocol, in.Status, false))
}

// Failed reports whether a request with status (an HTTP status, or a gRPC
// code for protocol "grpc") counts as failed: no answer, or a server
// error. For gRPC those are the codes that stand for a 5xx: Unknown,
// DeadlineExceeded, Unimplemented, Internal, Unavailable and DataLoss.
func Failed(protocol string, status int, noAnswer bool) bool {
	if protocol == observe.ProtocolGRPC {
		switch status {
		case 2, 4, 12, 13, 14, 15:
			return true
		}
		return false
	}
	return noAnswer || status == 0 || status >= 500
}

func (r *Recorder) record(k seriesKey, d time.Duration, failed bool) {
	s := r.lookup(k)
	epoch := r.cfg.Now().Unix() / BucketSeconds
	b := bucketOf(d.Microseconds())
	s.mu.Lock()
	bk := &s.buckets[epoch%int64(len(s.buckets))]
	if bk.epoch != epoch {
		*bk = bucket{epoch: epoch}
	}
	bk.n++
	if failed {
		bk.fails++
	}
	bk.hist[b]++
	s.mu.Unlock()
}

// lookup returns the series of k, adding it when new.
func (r *Recorder) lookup(k seriesKey) *series {
	if s, ok := (*r.series.Load())[k]; ok {
		return s
	}
	if len(k.peer) > maxPeerName {
		k.peer = k.peer[:maxPeerName]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := *r.series.Load()
	if s, ok := cur[k]; ok {
		return s
	}
	if len(cur) >= maxSeries {
		k.peer = OtherPeer
		if s, ok := cur[k]; ok {
			return s
		}
	}
	next := make(map[seriesKey]*series, len(cur)+1)
	for kk, s := range cur {
		next[kk] = s
	}
	s := &series{}
	next[k] = s
	r.series.Store(&next)
	return s
}

// Snapshot returns the node's counts over the window, oldest bucket
// first in each series; buckets without requests are left out.
func (r *Recorder) Snapshot() Snapshot {
	now := r.cfg.Now()
	epoch := now.Unix() / BucketSeconds
	snap := Snapshot{
		Version: SnapshotVersion, Service: r.cfg.Service, Node: r.cfg.Node,
		BucketSeconds: BucketSeconds, Buckets: NumBuckets, Now: epoch,
	}
	for k, s := range *r.series.Load() {
		ser := Series{Dir: k.dir, Peer: k.peer, Protocol: k.protocol}
		s.mu.Lock()
		for off := int64(WindowBuckets); off >= 0; off-- {
			e := epoch - off
			bk := &s.buckets[e%int64(len(s.buckets))]
			if bk.epoch != e || bk.n == 0 {
				continue
			}
			ser.Buckets = append(ser.Buckets, WireBucket{Epoch: e, N: bk.n, Fails: bk.fails, Hist: sparse(&bk.hist)})
		}
		s.mu.Unlock()
		if len(ser.Buckets) > 0 {
			snap.Series = append(snap.Series, ser)
		}
	}
	sortSeries(snap.Series)
	return snap
}
