package main

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// stallFirst answers at once, except its first call, which takes stall.
type stallFirst struct {
	stall time.Duration
	calls atomic.Int64
}

func (s *stallFirst) call(context.Context) error {
	if s.calls.Add(1) == 1 {
		time.Sleep(s.stall)
	}
	return nil
}

func selfMeter() *cpuMeter { return &cpuMeter{procs: []process{{Role: "client", PID: os.Getpid()}}} }

// A stall is charged to every request scheduled behind it: latency counts
// from the scheduled time, not from when a busy worker got round to it.
func TestOpenLoopCountsFromScheduledTime(t *testing.T) {
	c := &stallFirst{stall: 300 * time.Millisecond}
	// 50 requests, one every 10 ms, one at a time: the 29 scheduled
	// during the stall wait for it, for up to 290 ms.
	p, err := openLoop(context.Background(), c, 100, 500*time.Millisecond, 1, selfMeter())
	if err != nil {
		t.Fatal(err)
	}
	if p.Requests != 50 || c.calls.Load() != 50 {
		t.Fatalf("%d requests answered, %d sent, want 50", p.Requests, c.calls.Load())
	}
	// Timed from when each was sent, 49 of them would take no time and
	// p90 would be about 0.
	if p.Latency.P90 < 150 || p.Latency.Max < 290 {
		t.Errorf("latency %+v ms, want p90 ≥ 150 and max ≥ 290: the requests queued behind the stall were not charged for it", p.Latency)
	}
	if p.MaxSendLagMS < 250 {
		t.Errorf("max send lag %.1f ms, want ≥ 250 (the request scheduled at 10 ms waited for the stall)", p.MaxSendLagMS)
	}
}

type failEvery struct {
	n     int64
	calls atomic.Int64
}

func (f *failEvery) call(context.Context) error {
	if f.calls.Add(1)%f.n == 0 {
		return errors.New("refused")
	}
	return nil
}

func TestClosedLoopCountsAnswersAndErrors(t *testing.T) {
	f := &failEvery{n: 4}
	p, err := closedLoop(context.Background(), f, 3, 50*time.Millisecond, selfMeter())
	if err != nil {
		t.Fatal(err)
	}
	if p.Requests+p.Errors != f.calls.Load() || p.Errors == 0 || p.FirstError != "refused" {
		t.Errorf("%d answered + %d errors (first %q), %d calls: want every call counted once, errors with the first one's text",
			p.Requests, p.Errors, p.FirstError, f.calls.Load())
	}
	if p.Concurrency != 3 || p.Kind != "closed" || p.Throughput <= 0 {
		t.Errorf("phase %+v, want a closed loop of 3 callers with a throughput", p)
	}
}

func TestLoopsStopWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := closedLoop(ctx, &failEvery{n: 1 << 62}, 2, time.Hour, selfMeter()); !errors.Is(err, context.Canceled) {
		t.Errorf("closed loop: %v, want context.Canceled", err)
	}
	if _, err := openLoop(ctx, &failEvery{n: 1 << 62}, 10, time.Hour, 2, selfMeter()); !errors.Is(err, context.Canceled) {
		t.Errorf("open loop: %v, want context.Canceled", err)
	}
}

func TestSummarize(t *testing.T) {
	samples := make([]int64, 1000)
	for i := range samples {
		samples[i] = int64(1000-i) * int64(time.Millisecond) // 1000 ms down to 1 ms
	}
	got := summarize(samples)
	want := percentiles{P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000}
	if got != want {
		t.Errorf("summarize = %+v, want %+v (nearest rank)", got, want)
	}
	if got := summarize(nil); got != (percentiles{}) {
		t.Errorf("summarize(nil) = %+v, want zeros", got)
	}
}
