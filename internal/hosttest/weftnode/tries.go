package main

import (
	"context"
	"slices"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/weftmesh/weft/internal/hosttest/nodeapi"
)

// tries collects the attempts of the node's calls from the spans the mesh
// makes for them (the node is given a tracer provider that samples every
// call). A call's first attempt is told by the call's span: by its event
// weft.attempt when another attempt answered or none did, by the span's
// own attributes when it answered the call. Each further attempt has a
// span of its own. The load starts a span per request, so that the
// attempts of one request share its trace ID.
type tries struct {
	mu      sync.Mutex
	byTrace map[trace.TraceID][]nodeapi.Try
}

var _ sdktrace.SpanProcessor = (*tries)(nil)

func newTries() *tries { return &tries{byTrace: make(map[trace.TraceID][]nodeapi.Try)} }

func (r *tries) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd keeps the attempts a span tells of.
func (r *tries) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanKind() != trace.SpanKindClient {
		return
	}
	var try attempt
	attempts := int64(-1) // set on a call's span
	for _, kv := range s.Attributes() {
		if kv.Key == "weft.attempts" {
			attempts = kv.Value.AsInt64()
		}
		try.set(kv)
	}
	try.Start, try.End = s.StartTime(), s.EndTime()
	if attempts >= 0 {
		// A call's span: its first attempt answered it, unless an event
		// says otherwise.
		try.Outcome = "ok"
		for _, e := range s.Events() {
			if e.Name == "weft.attempt" {
				try = attempt{Start: s.StartTime(), End: e.Time}
				for _, kv := range e.Attributes {
					try.set(kv)
				}
			}
		}
		if attempts == 0 {
			return
		}
	}
	if try.Endpoint == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id := s.SpanContext().TraceID()
	r.byTrace[id] = append(r.byTrace[id], nodeapi.Try(try))
}

// attempt is a Try being read from a span.
type attempt nodeapi.Try

// set keeps what kv, an attribute of an attempt's span or event, tells.
func (a *attempt) set(kv attribute.KeyValue) {
	switch kv.Key {
	case "weft.endpoint":
		a.Endpoint = kv.Value.AsString()
	case "weft.outcome":
		a.Outcome = kv.Value.AsString()
	case "http.response.status_code":
		a.Status = int(kv.Value.AsInt64())
	}
}

// take returns and forgets the attempts of the trace id, in the order
// they ended.
func (r *tries) take(id trace.TraceID) []nodeapi.Try {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.byTrace[id]
	delete(r.byTrace, id)
	slices.SortStableFunc(t, func(a, b nodeapi.Try) int { return a.End.Compare(b.End) })
	return t
}

func (r *tries) Shutdown(context.Context) error   { return nil }
func (r *tries) ForceFlush(context.Context) error { return nil }
