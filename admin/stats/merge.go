package stats

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// SummarySeconds is the span the summary figures of an [Edge] and a
// [Service] cover: the last minute.
const SummarySeconds = 60

// ExternalCaller names, in a [View], the callers that are not mesh
// clients: requests served whose caller asserted no service.
const ExternalCaller = "(external)"

// View is the merged counts of many nodes: the service graph's edges and
// each service's golden signals.
type View struct {
	// Edges are caller → callee: from the callers' own counts when an
	// instance of the caller sent its counts, else from the callees'
	// (see [Edge.CountedBy]).
	Edges []Edge `json:"edges"`
	// Services are the golden signals of each service that served
	// requests, from its instances' counts.
	Services []Service `json:"services"`
	// Nodes lists the nodes whose snapshots were merged.
	Nodes []string `json:"nodes"`
	// BucketSeconds is the width of each point of the charts.
	BucketSeconds int `json:"bucketSeconds"`
}

// Summary is a minute of requests: rate, success and latency.
type Summary struct {
	Requests uint64 `json:"requests"`
	Failures uint64 `json:"failures"`
	// RPS is requests per second over the last minute, or since the
	// first request when that is more recent (but over at least one
	// bucket).
	RPS float64 `json:"rps"`
	// SuccessRate is the share of requests that did not fail, 0 to 1; 1
	// without requests.
	SuccessRate float64 `json:"successRate"`
	// P50Ms and P99Ms are latency percentiles from the merged histogram.
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
}

// Edge is caller → callee with its last minute.
type Edge struct {
	Source      string   `json:"source"`
	Destination string   `json:"destination"`
	Protocols   []string `json:"protocols"`
	// CountedBy says whose counts the figures are: [CountedByCaller] or
	// [CountedByCallee].
	CountedBy string `json:"countedBy"`
	Summary
}

// Values of [Edge.CountedBy]. An edge is counted by one side only, so no
// request is counted twice.
const (
	// CountedByCaller: the calls the caller's instances that sent their
	// counts made, as they saw them: one per call, its retries within,
	// calls that never reached the callee included.
	CountedByCaller = "caller"
	// CountedByCallee: the requests the callee's instances that sent
	// their counts served, by the caller's service (verified under mutual
	// TLS, else as the caller asserted it): each attempt counts, and calls
	// that never reached the callee are missing. Used when no instance of
	// the caller sent counts (it runs no admin endpoint, or could not be
	// read), and for callers from outside the mesh.
	CountedByCallee = "callee"
)

// Service is one service's requests served: its last minute and a point
// per time bucket over the window, oldest first.
type Service struct {
	Service string  `json:"service"`
	Points  []Point `json:"points"`
	Summary
}

// Point is one time bucket of a service's chart.
type Point struct {
	// Time is the bucket's start, unix seconds.
	Time      int64   `json:"t"`
	RPS       float64 `json:"rps"`
	ErrorRate float64 `json:"errorRate"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
}

// acc adds up buckets by epoch.
type acc struct {
	protocols map[string]bool
	byEpoch   map[int64]*bucket
}

func (a *acc) add(protocol string, b *WireBucket, h *Histogram) {
	if a.byEpoch == nil {
		a.byEpoch, a.protocols = map[int64]*bucket{}, map[string]bool{}
	}
	a.protocols[protocol] = true
	t := a.byEpoch[b.Epoch]
	if t == nil {
		t = &bucket{epoch: b.Epoch}
		a.byEpoch[b.Epoch] = t
	}
	t.n += b.N
	t.fails += b.Fails
	t.hist.Add(h)
}

// summary adds up the buckets of the last minute before now.
func (a *acc) summary(now time.Time) Summary {
	cur := now.Unix() / BucketSeconds
	from := cur - SummarySeconds/BucketSeconds
	var (
		s     Summary
		h     Histogram
		first = cur
	)
	for e, b := range a.byEpoch {
		if e < from || e > cur {
			continue
		}
		s.Requests += b.n
		s.Failures += b.fails
		h.Add(&b.hist)
		first = min(first, e)
	}
	s.SuccessRate = 1
	if s.Requests > 0 {
		s.SuccessRate = float64(s.Requests-min(s.Failures, s.Requests)) / float64(s.Requests)
		span := now.Sub(time.Unix(first*BucketSeconds, 0)).Seconds()
		span = min(max(span, BucketSeconds), SummarySeconds+BucketSeconds)
		s.RPS = float64(s.Requests) / span
	}
	s.P50Ms, s.P99Ms = h.Quantile(0.5), h.Quantile(0.99)
	return s
}

// points returns one point per bucket of the window before now.
func (a *acc) points(now time.Time) []Point {
	cur := now.Unix() / BucketSeconds
	out := make([]Point, 0, WindowBuckets+1)
	for e := cur - WindowBuckets; e <= cur; e++ {
		p := Point{Time: e * BucketSeconds}
		if b := a.byEpoch[e]; b != nil && b.n > 0 {
			p.RPS = float64(b.n) / BucketSeconds
			p.ErrorRate = float64(b.fails) / float64(b.n)
			p.P50Ms, p.P99Ms = b.hist.Quantile(0.5), b.hist.Quantile(0.99)
		}
		out = append(out, p)
	}
	return out
}

// Merge adds up snapshots, which must have passed [Snapshot.Check], into
// the view at now. Each node's calls make the edges from its service.
// Requests served make the services' golden signals, and the edges from
// callers that sent no snapshot: from the caller's service, or from
// [ExternalCaller] when the caller named none.
func Merge(now time.Time, snaps []Snapshot) View {
	type edgeKey struct{ src, dst string }
	edges := map[edgeKey]*acc{}
	countedBy := map[edgeKey]string{}
	services := map[string]*acc{}
	v := View{BucketSeconds: BucketSeconds}
	get := func(k edgeKey, by string) *acc {
		a := edges[k]
		if a == nil {
			a = &acc{}
			edges[k] = a
			countedBy[k] = by
		}
		return a
	}
	// A service that sent a snapshot counts its own calls; the callees'
	// counts of its requests are left out, or they would count twice.
	reported := map[string]bool{}
	for _, snap := range snaps {
		reported[snap.Service] = true
	}
	for _, snap := range snaps {
		v.Nodes = append(v.Nodes, snap.Node)
		svc := services[snap.Service]
		for _, ser := range snap.Series {
			for i := range ser.Buckets {
				b := &ser.Buckets[i]
				h, err := b.histogram()
				if err != nil {
					continue
				}
				switch {
				case ser.Dir == Out:
					get(edgeKey{snap.Service, ser.Peer}, CountedByCaller).add(ser.Protocol, b, &h)
				case ser.Dir == In:
					if svc == nil {
						svc = &acc{}
						services[snap.Service] = svc
					}
					svc.add(ser.Protocol, b, &h)
					switch {
					case ser.Peer == "":
						get(edgeKey{ExternalCaller, snap.Service}, CountedByCallee).add(ser.Protocol, b, &h)
					case ser.Peer != OtherPeer && !reported[ser.Peer]:
						get(edgeKey{ser.Peer, snap.Service}, CountedByCallee).add(ser.Protocol, b, &h)
					}
				}
			}
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(edges), func(a, b edgeKey) int {
		return strings.Compare(a.src+"\x00"+a.dst, b.src+"\x00"+b.dst)
	}) {
		a := edges[k]
		v.Edges = append(v.Edges, Edge{Source: k.src, Destination: k.dst, CountedBy: countedBy[k],
			Protocols: slices.Sorted(maps.Keys(a.protocols)), Summary: a.summary(now)})
	}
	for _, name := range slices.Sorted(maps.Keys(services)) {
		a := services[name]
		v.Services = append(v.Services, Service{Service: name, Summary: a.summary(now), Points: a.points(now)})
	}
	slices.Sort(v.Nodes)
	return v
}
