package main

import (
	"math/bits"
	"net/http"
	"sync"
	"time"
)

// histogram counts durations in buckets a sixteenth of a power of two
// wide (exact below 16 µs), so a quantile read from it is within about 3%
// of the true value whatever the range, in fixed memory.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
}

const (
	histSubBits = 4
	histSub     = 1 << histSubBits
	histMaxBits = 40 // 2^40 µs is about 12 days: longer durations share the last bucket
	histBuckets = (histMaxBits - histSubBits + 1) * histSub
)

// bucketOf returns the bucket of a duration, in microseconds.
func bucketOf(us uint64) int {
	if us < histSub {
		return int(us)
	}
	if us >= 1<<histMaxBits {
		return histBuckets - 1
	}
	exp := bits.Len64(us) - 1 // us is in [2^exp, 2^(exp+1))
	sub := (us >> (exp - histSubBits)) & (histSub - 1)
	return (exp-histSubBits+1)*histSub + int(sub)
}

// bucketRange returns the bounds [lo, hi) of bucket i, in microseconds.
func bucketRange(i int) (lo, hi uint64) {
	if i < histSub {
		return uint64(i), uint64(i) + 1
	}
	exp := i/histSub + histSubBits - 1
	sub := uint64(i % histSub)
	width := uint64(1) << (exp - histSubBits)
	lo = (histSub + sub) * width
	return lo, lo + width
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d/time.Microsecond))]++
	h.n++
}

// add adds o's counts to h.
func (h *histogram) add(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the middle of the bucket holding the q-quantile (q in
// [0, 1]), or 0 if h is empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = max(rank, 1)
	rank = min(rank, h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			return time.Duration(lo+hi) * time.Microsecond / 2
		}
	}
	return 0 // unreachable: the counts add up to n
}

// requestStats counts the requests of one endpoint, or of the load
// generator: totals since the start, and latencies both since the last
// snapshot and overall. It is safe for concurrent use.
type requestStats struct {
	mu      sync.Mutex
	total   uint64
	ok      uint64
	recent  histogram // since the last snapshot
	overall histogram
}

// record counts one request that took d.
func (s *requestStats) record(d time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	if ok {
		s.ok++
	}
	s.recent.record(d)
}

// statsSnapshot is what a [requestStats] counted.
type statsSnapshot struct {
	Recent               uint64        // requests since the previous snapshot
	RecentP50, RecentP99 time.Duration // their latency; 0 when Recent is 0
	Total, OK            uint64
	P50, P99             time.Duration // latency over all requests
}

// SuccessRate returns OK/Total in percent, or 100 when nothing was counted.
func (s statsSnapshot) SuccessRate() float64 {
	if s.Total == 0 {
		return 100
	}
	return 100 * float64(s.OK) / float64(s.Total)
}

// snapshot returns the counts and starts a new recent period.
func (s *requestStats) snapshot() statsSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := statsSnapshot{
		Recent:    s.recent.n,
		RecentP50: s.recent.quantile(0.50),
		RecentP99: s.recent.quantile(0.99),
		Total:     s.total,
		OK:        s.ok,
	}
	s.overall.add(&s.recent)
	s.recent = histogram{}
	snap.P50, snap.P99 = s.overall.quantile(0.50), s.overall.quantile(0.99)
	return snap
}

// measure returns h behind a middleware that records every request's
// status and duration into stats. A response with a status below 500
// counts as a success.
func measure(stats *requestStats, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				// net/http answers nothing to a panicking handler: a failure.
				stats.record(time.Since(start), false)
				panic(p)
			}
			stats.record(time.Since(start), sw.status() < 500)
		}()
		h.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status of a response. Unwrap lets
// http.ResponseController reach the underlying writer's capabilities.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush keeps streaming handlers working through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.code == 0 {
			w.code = http.StatusOK
		}
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status returns the status sent, 200 if the handler wrote nothing (as
// net/http does).
func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// count returns the number of requests counted.
func (s *requestStats) count() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}
