package main

import (
	"context"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/weftmesh/weft/internal/hosttest/nodeapi"
)

// tries collects the attempts of the node's calls from the spans the mesh
// makes for them (the node is given a tracer provider that samples every
// call): each attempt span names the endpoint it went to. The load starts
// a span per request, so that the attempts of one request share its trace
// ID.
type tries struct {
	mu      sync.Mutex
	byTrace map[trace.TraceID][]nodeapi.Try
}

var _ sdktrace.SpanProcessor = (*tries)(nil)

func newTries() *tries { return &tries{byTrace: make(map[trace.TraceID][]nodeapi.Try)} }

func (r *tries) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd keeps the spans of attempts, which carry weft.endpoint.
func (r *tries) OnEnd(s sdktrace.ReadOnlySpan) {
	try := nodeapi.Try{Start: s.StartTime(), End: s.EndTime()}
	for _, kv := range s.Attributes() {
		switch kv.Key {
		case "weft.endpoint":
			try.Endpoint = kv.Value.AsString()
		case "weft.outcome":
			try.Outcome = kv.Value.AsString()
		case "http.response.status_code":
			try.Status = int(kv.Value.AsInt64())
		}
	}
	if try.Endpoint == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id := s.SpanContext().TraceID()
	r.byTrace[id] = append(r.byTrace[id], try)
}

// take returns and forgets the attempts of the trace id.
func (r *tries) take(id trace.TraceID) []nodeapi.Try {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.byTrace[id]
	delete(r.byTrace, id)
	return t
}

func (r *tries) Shutdown(context.Context) error   { return nil }
func (r *tries) ForceFlush(context.Context) error { return nil }
