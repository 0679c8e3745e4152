package telemetry

import (
	"errors"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// instrumentationName names the meter and tracer Weft creates.
const instrumentationName = "github.com/weftmesh/weft"

// durationBuckets are the bucket bounds of the duration histograms, in
// seconds: OpenTelemetry's recommendation for HTTP durations, which covers
// 5 ms to 10 s.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Label keys. Metric labels hold services, routes and small enumerations
// only: never addresses, paths or identities, which would grow without
// bound.
const (
	keySource      = attribute.Key("source")
	keyDestination = attribute.Key("destination")
	keyRoute       = attribute.Key("route")
	keyClass       = attribute.Key("response_class")
	keyProtocol    = attribute.Key("protocol")
	keyState       = attribute.Key("state")
	keyReason      = attribute.Key("reason")
	keyMode        = attribute.Key("mode")
	keyStatus      = attribute.Key("status")
	keyResult      = attribute.Key("result")
	keySHA256      = attribute.Key("sha256")
)

// instruments are the synchronous metric instruments, updated on the
// request path.
type instruments struct {
	clientRequests    metric.Int64Counter
	clientDuration    metric.Float64Histogram
	clientActive      metric.Int64UpDownCounter
	retries           metric.Int64Counter
	hedges            metric.Int64Counter
	budgetExhausted   metric.Int64Counter
	breakerTransition metric.Int64Counter
	ejections         metric.Int64Counter
	serverRequests    metric.Int64Counter
	serverDuration    metric.Float64Histogram
}

func newInstruments(m metric.Meter) (*instruments, error) {
	var (
		in   instruments
		errs []error
	)
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(durationBuckets...))
		errs = append(errs, err)
		return h
	}
	in.clientRequests = counter("weft.client.requests", "{request}", "Calls made to mesh services, by source, destination, route and response class (2xx..5xx, or error when no response came).")
	in.clientDuration = histogram("weft.client.request.duration", "Duration of calls to mesh services, retries included, to the end of the response body.")
	active, err := m.Int64UpDownCounter("weft.client.active_requests", metric.WithUnit("{request}"),
		metric.WithDescription("Calls to mesh services in flight."))
	errs = append(errs, err)
	in.clientActive = active
	in.retries = counter("weft.client.retries", "{retry}", "Attempts sent again after a failed one.")
	in.hedges = counter("weft.client.hedges", "{hedge}", "Extra attempts started because the first was slow.")
	in.budgetExhausted = counter("weft.client.retry_budget.exhausted", "{call}", "Calls that wanted a retry or hedge the retry budget refused.")
	in.breakerTransition = counter("weft.client.breaker.transitions", "{transition}", "Circuit breakers that opened or closed, by destination and new state.")
	in.ejections = counter("weft.client.ejections", "{ejection}", "Endpoints ejected by outlier detection.")
	in.serverRequests = counter("weft.server.requests", "{request}", "Requests served, by source, destination and response class.")
	in.serverDuration = histogram("weft.server.request.duration", "Duration of requests served, from arrival to the handler's return.")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &in, nil
}

// responseClass names a status's class for metric labels: 2xx to 5xx for
// HTTP, the code's name for gRPC, "error" when no response came.
func responseClass(protocol string, status int) string {
	if protocol == "grpc" {
		if status >= 0 && status < len(grpcCodes) {
			return grpcCodes[status]
		}
		return "unknown"
	}
	switch {
	case status >= 100 && status < 600:
		return httpClasses[status/100]
	case status == 0:
		return "error"
	}
	return "unknown"
}

var httpClasses = [...]string{"", "1xx", "2xx", "3xx", "4xx", "5xx"}

// grpcCodes are the names of gRPC's status codes, in code order.
var grpcCodes = [...]string{"ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found",
	"already_exists", "permission_denied", "resource_exhausted", "failed_precondition", "aborted",
	"out_of_range", "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated"}

// attrKey is the label values of one series, up to five.
type attrKey [5]string

// maxSeries bounds the label combinations one attrSet caches; beyond it,
// new combinations share one series whose values are all "other", so that
// callers naming themselves freely cannot grow the metrics without bound.
const maxSeries = 1000

// series is the measurement options of one label combination, as the
// slices Add and Record take: passing a kept slice allocates nothing,
// where passing an option on its own would allocate the variadic slice.
type series struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

// attrSet caches the series of each label combination, so that recording
// a measurement allocates nothing. Readers take no lock: the map is
// replaced, never changed, when a combination is added.
type attrSet struct {
	keys     []attribute.Key
	mu       sync.Mutex
	m        atomic.Pointer[map[attrKey]*series]
	overflow *series
}

func newAttrSet(keys ...attribute.Key) *attrSet {
	s := &attrSet{keys: keys}
	s.m.Store(&map[attrKey]*series{})
	var other attrKey
	for i := range keys {
		other[i] = "other"
	}
	s.overflow = s.series(other)
	return s
}

func (s *attrSet) series(k attrKey) *series {
	kvs := make([]attribute.KeyValue, len(s.keys))
	for i, key := range s.keys {
		kvs[i] = key.String(k[i])
	}
	o := metric.WithAttributeSet(attribute.NewSet(kvs...))
	return &series{add: []metric.AddOption{o}, rec: []metric.RecordOption{o}}
}

// get returns the series of label values k.
func (s *attrSet) get(k attrKey) *series {
	if o, ok := (*s.m.Load())[k]; ok {
		return o
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.m.Load()
	if o, ok := old[k]; ok {
		return o
	}
	if len(old) >= maxSeries {
		return s.overflow
	}
	o := s.series(k)
	m := make(map[attrKey]*series, len(old)+1)
	for kk, v := range old {
		m[kk] = v
	}
	m[k] = o
	s.m.Store(&m)
	return o
}
