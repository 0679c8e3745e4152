package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// drill is what happens midway: one instance shuts down gracefully and
// another is killed, and it watches how long the mesh takes to route
// around each.
type drill struct {
	shop *shop
	scr  *screen
	// drained is the checkout instance shut down gracefully; killed is the
	// inventory instance stopped abruptly.
	drained, killed *instance

	mu      sync.Mutex
	at      time.Duration // when the drill started, since the screen's start
	ran     bool
	outcome map[*instance]drillOutcome
}

// drillOutcome is how the mesh reacted to one stopped instance. A zero
// duration means it did not happen before the run ended.
type drillOutcome struct {
	unrouted time.Duration // until no caller balanced over it
	stopped  time.Duration // until Shutdown returned (graceful only)
	err      error         // Shutdown's or Close's error
}

func newDrill(s *shop, scr *screen) *drill {
	d := &drill{shop: s, scr: scr, outcome: make(map[*instance]drillOutcome)}
	for _, in := range s.instances {
		switch in.label {
		case "checkout #2":
			d.drained = in
		case "inventory #2":
			d.killed = in
		}
	}
	return d
}

// run stops both instances and waits until their callers no longer route
// to them, or ctx ends.
func (d *drill) run(ctx context.Context) {
	d.mu.Lock()
	d.ran, d.at = true, d.scr.elapsed()
	d.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { d.drain(ctx, d.drained) })
	wg.Go(func() { d.kill(ctx, d.killed) })
	wg.Wait()
}

func (d *drill) drain(ctx context.Context, in *instance) {
	d.scr.event("%s (node %s) shuts down gracefully: it announces that it drains, serves what is in flight, then leaves", in.label, in.node.Name())
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		// Not cut short when the run ends meanwhile: a graceful shutdown
		// under way is let finish.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		done <- in.node.Shutdown(sctx)
	}()
	unrouted := d.waitUnrouted(ctx, in, start)
	err := <-done
	stopped := time.Since(start)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		d.scr.event("%s: shutdown failed: %v", in.label, err)
	} else {
		d.scr.event("%s left the mesh after %.2fs; callers stopped sending it requests after %.2fs", in.label, stopped.Seconds(), unrouted.Seconds())
	}
	d.record(in, drillOutcome{unrouted: unrouted, stopped: stopped, err: err})
}

func (d *drill) kill(ctx context.Context, in *instance) {
	d.scr.event("%s (node %s) is killed: listener and gossip closed without a word to the mesh", in.label, in.node.Name())
	start := time.Now()
	err := d.shop.kill(in)
	if err != nil {
		d.scr.event("%s: close: %v", in.label, err)
	}
	unrouted := d.waitUnrouted(ctx, in, start)
	if unrouted > 0 {
		d.scr.event("the mesh declared %s dead after %.2fs and its callers dropped it; until then they retried refused connections on the other instances", in.label, unrouted.Seconds())
	}
	d.record(in, drillOutcome{unrouted: unrouted, err: err})
}

// waitUnrouted polls until no caller balances over in's endpoint, and
// returns how long after start that was; 0 if ctx ended or 30 s passed
// first.
func (d *drill) waitUnrouted(ctx context.Context, in *instance, start time.Time) time.Duration {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for d.shop.routedTo(in) {
		select {
		case <-ctx.Done():
			return 0
		case <-deadline.C:
			return 0
		case <-tick.C:
		}
	}
	return time.Since(start)
}

func (d *drill) record(in *instance, o drillOutcome) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.outcome[in] = o
}

// story tells what the drill did, for the summary.
func (d *drill) story() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ran {
		return "The run ended before its midpoint, so no instance was stopped."
	}
	s := fmt.Sprintf("At %.1fs %s shut down gracefully", d.at.Seconds(), d.drained.label)
	switch o, ok := d.outcome[d.drained]; {
	case !ok || o.unrouted == 0:
		s += " (the run ended before it finished)"
	case o.err != nil:
		s += fmt.Sprintf(" but its shutdown failed: %v", o.err)
	default:
		s += fmt.Sprintf(": its callers stopped sending it requests within %.2fs and it left the mesh after %.2fs", o.unrouted.Seconds(), o.stopped.Seconds())
	}
	s += fmt.Sprintf(", and %s was killed", d.killed.label)
	switch o, ok := d.outcome[d.killed]; {
	case !ok || o.unrouted == 0:
		s += " (the run ended before the mesh declared it dead)."
	default:
		s += fmt.Sprintf(": refused connections were retried on the other instances until the mesh declared it dead, %.2fs later.", o.unrouted.Seconds())
	}
	return s
}

// summary is the paragraph printed at the end of a run.
func summary(elapsed time.Duration, gen statsSnapshot, lastErr string, s *shop, d *drill) string {
	p := fmt.Sprintf("Summary: in %.1fs the loadgen sent %d requests to %s through the mesh; %d succeeded (%.2f%%), end-to-end p50 %s, p99 %s. Requests served per service: %s. %s",
		elapsed.Seconds(), gen.Total, loadgenURL, gen.OK, gen.SuccessRate(), latency(gen.P50), latency(gen.P99), s.servedSummary(), d.story())
	if failed := gen.Total - gen.OK; failed > 0 {
		p += fmt.Sprintf(" %d request(s) failed; the last: %s", failed, lastErr)
	} else {
		p += " No request failed."
	}
	return p
}
