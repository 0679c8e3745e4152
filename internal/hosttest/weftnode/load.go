package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/weftmesh/weft/internal/hosttest/nodeapi"
)

const (
	// maxInFlight bounds an open-loop load's requests in flight; beyond
	// it, a request is recorded as not sent rather than piling up.
	maxInFlight = 1000
	// defaultLoadTimeout bounds a request when LoadSpec.Timeout is zero.
	defaultLoadTimeout = 10 * time.Second
)

// load sends requests on schedule through a mesh client and records how
// each ended.
type load struct {
	spec   nodeapi.LoadSpec
	client *http.Client
	prefix string // of request IDs
	tracer trace.Tracer
	tries  *tries

	stopOnce  sync.Once
	stopCh    chan struct{}
	scheduler sync.WaitGroup
	requests  sync.WaitGroup

	mu       sync.Mutex
	inFlight int
	ended    []nodeapi.Outcome // not yet drained
}

func startLoad(spec nodeapi.LoadSpec, client *http.Client, prefix string, tracer trace.Tracer, tries *tries) *load {
	if spec.Timeout <= 0 {
		spec.Timeout = defaultLoadTimeout
	}
	l := &load{spec: spec, client: client, prefix: prefix, tracer: tracer, tries: tries, stopCh: make(chan struct{})}
	l.scheduler.Add(1)
	go l.run()
	return l
}

// run starts a request every 1/Rate seconds of schedule; when it falls
// behind it catches up at once, as an open-loop load must.
func (l *load) run() {
	defer l.scheduler.Done()
	interval := time.Duration(float64(time.Second) / l.spec.Rate)
	next := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for i := 1; ; i++ {
		t.Reset(time.Until(next))
		select {
		case <-l.stopCh:
			return
		case <-t.C:
		}
		id := fmt.Sprintf("%s-%d", l.prefix, i)
		l.mu.Lock()
		full := l.inFlight >= maxInFlight
		if !full {
			l.inFlight++
		}
		l.mu.Unlock()
		if full {
			now := time.Now()
			l.finish(nodeapi.Outcome{ID: id, Err: fmt.Sprintf("not sent: %d requests in flight", maxInFlight), Start: now, End: now}, false)
		} else {
			l.requests.Add(1)
			go l.send(id)
		}
		next = next.Add(interval)
	}
}

func (l *load) send(id string) {
	defer l.requests.Done()
	o := nodeapi.Outcome{ID: id, Start: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), l.spec.Timeout)
	defer cancel()
	ctx, span := l.tracer.Start(ctx, "load request")
	var body io.Reader
	if l.spec.Method == http.MethodPost {
		body = strings.NewReader(id)
	}
	req, err := http.NewRequestWithContext(ctx, l.spec.Method, "http://"+l.spec.Service+"/", body)
	if err == nil {
		req.Header.Set(nodeapi.RequestIDHeader, id)
		var resp *http.Response
		if resp, err = l.client.Do(req); err == nil {
			b, rerr := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			o.Status = resp.StatusCode
			if rerr != nil {
				o.Err = "reading the answer: " + rerr.Error()
			} else if resp.StatusCode == http.StatusOK {
				o.Backend, _, _ = strings.Cut(string(b), " ")
			} else {
				o.Err = strings.TrimSpace(string(b))
			}
		}
	}
	if err != nil {
		o.Err = err.Error()
	}
	o.End = time.Now()
	span.End()
	o.Tries = l.tries.take(span.SpanContext().TraceID())
	l.finish(o, true)
}

func (l *load) finish(o nodeapi.Outcome, sent bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sent {
		l.inFlight--
	}
	l.ended = append(l.ended, o)
}

// drain returns the outcomes recorded since the last drain.
func (l *load) drain() []nodeapi.Outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.ended
	l.ended = nil
	return out
}

// stop stops sending, waits for the requests in flight (each is bounded by
// its timeout) and returns the outcomes not yet drained.
func (l *load) stop() []nodeapi.Outcome {
	l.stopOnce.Do(func() { close(l.stopCh) })
	l.scheduler.Wait()
	l.requests.Wait()
	return l.drain()
}
