package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// caller sends one request of a mode and reads its whole answer. It is
// called from many goroutines at once.
type caller interface {
	call(ctx context.Context) error
}

// phase is what one measured load phase of a mode produced.
type phase struct {
	Kind        string  `json:"kind"` // "closed" (N callers, as fast as they can) or "open" (a fixed rate)
	Concurrency int     `json:"concurrency,omitempty"`
	TargetRate  float64 `json:"target_rate,omitempty"`

	Requests   int64   `json:"requests"` // answered without error
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput"` // requests per second
	// Latency of the requests answered, in milliseconds. In an open
	// loop it counts from each request's scheduled send time, so a
	// request held up behind a slow one is not forgotten (no coordinated
	// omission).
	Latency percentiles `json:"latency_ms"`
	// MaxSendLagMS is the longest a request of an open loop was sent
	// after its scheduled time.
	MaxSendLagMS float64 `json:"max_send_lag_ms,omitempty"`

	CPU             []processCPU `json:"cpu"`
	CPUSeconds      float64      `json:"cpu_seconds"`        // all of the mode's processes
	CPUPerRequestUS float64      `json:"cpu_us_per_request"` // CPUSeconds per request, in µs
	VCPU            float64      `json:"vcpu"`               // CPUSeconds per second
	Machine         machineCPU   `json:"machine"`
}

// percentiles of a latency distribution, in milliseconds.
type percentiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// recorder keeps one worker's outcomes, so that workers share nothing
// while they run.
type recorder struct {
	samples  []int64 // latencies in ns
	errors   int64
	firstErr error
	maxLag   time.Duration
}

func (r *recorder) record(d time.Duration, err error) {
	if err != nil {
		r.errors++
		if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	r.samples = append(r.samples, int64(d))
}

// closedLoop runs workers callers, each sending its next request when
// the previous one is answered, for d: the most the mode can serve.
func closedLoop(ctx context.Context, c caller, workers int, d time.Duration, m *cpuMeter) (phase, error) {
	var stop atomic.Bool
	stopWhenDone := context.AfterFunc(ctx, func() { stop.Store(true) })
	defer stopWhenDone()

	recs := make([]recorder, workers)
	return measure(ctx, m, recs, func(start time.Time) {
		timer := time.AfterFunc(d, func() { stop.Store(true) })
		defer timer.Stop()
		var wg sync.WaitGroup
		for i := range recs {
			r := &recs[i]
			wg.Go(func() {
				for !stop.Load() {
					t0 := time.Now()
					err := c.call(ctx)
					r.record(time.Since(t0), err)
				}
			})
		}
		wg.Wait()
	}, phase{Kind: "closed", Concurrency: workers})
}

// openLoop sends rate requests per second for d, each at its scheduled
// time whether or not earlier ones were answered, and measures each
// request's latency from its scheduled time. At most workers requests
// are in flight, so that they use the connections the warm-up opened: a
// request scheduled while all are busy waits for one, and its latency
// counts the wait.
func openLoop(ctx context.Context, c caller, rate float64, d time.Duration, workers int, m *cpuMeter) (phase, error) {
	n := int(math.Round(d.Seconds() * rate))
	recs := make([]recorder, workers)
	return measure(ctx, m, recs, func(start time.Time) {
		jobs := make(chan time.Time, min(max(n, 1), 1<<16))
		var wg sync.WaitGroup
		for i := range recs {
			r := &recs[i]
			wg.Go(func() {
				for at := range jobs {
					if lag := time.Since(at); lag > r.maxLag {
						r.maxLag = lag
					}
					err := c.call(ctx)
					r.record(time.Since(at), err)
				}
			})
		}
		defer wg.Wait()
		defer close(jobs)
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for i := range n {
			at := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
			if wait := time.Until(at); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
			select {
			case jobs <- at:
			case <-ctx.Done():
				return
			}
		}
	}, phase{Kind: "open", Concurrency: workers, TargetRate: rate})
}

// measure runs load between two readings of m and fills p from what the
// workers recorded.
func measure(ctx context.Context, m *cpuMeter, recs []recorder, load func(start time.Time), p phase) (phase, error) {
	before, err := m.sample()
	if err != nil {
		return p, err
	}
	start := time.Now()
	load(start)
	elapsed := time.Since(start)
	after, err := m.sample()
	if err != nil {
		return p, err
	}
	if err := ctx.Err(); err != nil {
		return p, err
	}

	var all []int64
	for i := range recs {
		r := &recs[i]
		all = append(all, r.samples...)
		p.Errors += r.errors
		if r.firstErr != nil && p.FirstError == "" {
			p.FirstError = r.firstErr.Error()
		}
		p.MaxSendLagMS = max(p.MaxSendLagMS, ms(r.maxLag))
	}
	p.Requests = int64(len(all))
	p.Seconds = elapsed.Seconds()
	p.Throughput = float64(p.Requests) / p.Seconds
	p.Latency = summarize(all)
	p.CPU, p.Machine = m.since(before, after)
	for _, c := range p.CPU {
		p.CPUSeconds += c.Seconds
	}
	p.VCPU = p.CPUSeconds / p.Seconds
	if p.Requests > 0 {
		p.CPUPerRequestUS = p.CPUSeconds / float64(p.Requests) * 1e6
	}
	return p, nil
}

// summarize returns the percentiles of samples (ns), by nearest rank. It
// sorts samples.
func summarize(samples []int64) percentiles {
	if len(samples) == 0 {
		return percentiles{}
	}
	slices.Sort(samples)
	rank := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(samples)))) - 1
		return ms(time.Duration(samples[max(i, 0)]))
	}
	return percentiles{P50: rank(0.5), P90: rank(0.9), P99: rank(0.99), P999: rank(0.999), Max: ms(time.Duration(samples[len(samples)-1]))}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
