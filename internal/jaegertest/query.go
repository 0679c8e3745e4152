package jaegertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Trace is one trace as Jaeger's query API returns it.
type Trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []Span             `json:"spans"`
	Processes map[string]Process `json:"processes"`
}

// Span is one span of a [Trace].
type Span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	// StartTime is in microseconds since the epoch, Duration in
	// microseconds.
	StartTime int64      `json:"startTime"`
	Duration  int64      `json:"duration"`
	Tags      []KeyValue `json:"tags"`
	// Logs are the span's events.
	Logs      []Log  `json:"logs"`
	ProcessID string `json:"processID"`
}

// Log is a span event: its name is the field "event".
type Log struct {
	Timestamp int64      `json:"timestamp"`
	Fields    []KeyValue `json:"fields"`
}

// Field returns the value of the log's field key.
func (l Log) Field(key string) (any, bool) { return lookup(l.Fields, key) }

// Reference links a span to another: refType CHILD_OF names its parent.
type Reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// Process is the service a span came from.
type Process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []KeyValue `json:"tags"`
}

// KeyValue is a span or process tag.
type KeyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Service returns the name of the service s came from.
func (t *Trace) Service(s Span) string { return t.Processes[s.ProcessID].ServiceName }

// Parent returns the span ID of s's parent, or "" for a root span.
func (s Span) Parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// Tag returns the value of s's tag key, and whether it has one.
func (s Span) Tag(key string) (any, bool) { return lookup(s.Tags, key) }

func lookup(kvs []KeyValue, key string) (any, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Traces returns the traces Jaeger holds for service (GET
// /api/traces?service=NAME, the last hour, up to 100 traces).
func (j *Jaeger) Traces(ctx context.Context, service string) ([]Trace, error) {
	q := url.Values{"service": {service}, "lookback": {"1h"}, "limit": {"100"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.QueryURL()+"/api/traces?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("jaegertest: %w", err)
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jaegertest: query traces of %s: %w", service, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("jaegertest: query traces of %s: %w", service, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jaegertest: query traces of %s: %s: %s", service, resp.Status, body)
	}
	var out struct {
		Data   []Trace `json:"data"`
		Errors []struct {
			Msg string `json:"msg"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("jaegertest: query traces of %s: %w", service, err)
	}
	if len(out.Errors) > 0 {
		return nil, fmt.Errorf("jaegertest: query traces of %s: %s", service, out.Errors[0].Msg)
	}
	return out.Data, nil
}

// AwaitTrace polls Jaeger for service's traces until match accepts one,
// and returns it; it fails when ctx ends first, with what was last seen.
// Spans reach the query API a little after they are exported, and the
// spans of one trace can arrive in several batches: match should accept
// only a complete trace.
func (j *Jaeger) AwaitTrace(ctx context.Context, service string, match func(*Trace) bool) (*Trace, error) {
	var last string
	for {
		traces, err := j.Traces(ctx, service)
		if err == nil {
			for i := range traces {
				if match(&traces[i]) {
					return &traces[i], nil
				}
			}
			last = fmt.Sprintf("%d trace(s) of %s, none complete", len(traces), service)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("jaegertest: no matching trace of %s: %w (last: %s)", service, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
