package main

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// loadgen sends GET http://frontend/ at a steady rate, open loop: a tick
// finding every worker busy is skipped and counted, not queued, so a slow
// shop shows up as skipped requests instead of a growing backlog.
type loadgen struct {
	client  *http.Client // a mesh client of the loadgen node
	rate    int          // requests per second
	workers int

	stats   requestStats
	skipped atomic.Uint64

	mu      sync.Mutex
	lastErr string
}

const loadgenURL = "http://frontend/"

// run sends requests until ctx ends, then waits for those in flight. They
// are not cancelled: each finishes within the policy's timeout.
func (g *loadgen) run(ctx context.Context) {
	jobs := make(chan struct{}, g.workers)
	reqCtx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for range g.workers {
		wg.Go(func() {
			for range jobs {
				g.send(reqCtx)
			}
		})
	}
	tick := time.NewTicker(time.Second / time.Duration(g.rate))
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			select {
			case jobs <- struct{}{}:
			default:
				g.skipped.Add(1)
			}
		}
	}
	close(jobs)
	wg.Wait()
}

func (g *loadgen) send(ctx context.Context) {
	start := time.Now()
	err := call(ctx, g.client, loadgenURL)
	g.stats.record(time.Since(start), err == nil)
	if err != nil {
		g.mu.Lock()
		g.lastErr = err.Error()
		g.mu.Unlock()
	}
}

// lastError returns the message of the latest failed request, or "".
func (g *loadgen) lastError() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastErr
}
