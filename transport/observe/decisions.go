package observe

import (
	"context"
	"slices"
	"sync"
	"time"
)

// DefaultDecisions is how many routing decisions a [DecisionLog] made with
// size 0 keeps.
const DefaultDecisions = 100

// maxDecisionPath bounds the request path a decision keeps.
const maxDecisionPath = 200

// Decision is one client call as the client engine decided it: which route
// matched, which subset the split chose, which endpoints the attempts went
// to and how the call ended. It answers "why did this request go there?".
type Decision struct {
	Time        time.Time `json:"time"`
	Destination string    `json:"destination"`
	Method      string    `json:"method"`
	Path        string    `json:"path,omitempty"`
	// Route is the route that matched, "" when none did.
	Route string `json:"route,omitempty"`
	// Subset is the subset the route's split chose, "" for every endpoint.
	Subset string `json:"subset,omitempty"`
	// Endpoint is the host:port that gave the final answer.
	Endpoint string `json:"endpoint,omitempty"`
	// Attempts counts the attempts sent, Hedges those a hedge timer
	// started.
	Attempts int `json:"attempts"`
	Hedges   int `json:"hedges,omitempty"`
	// BudgetExhausted reports that the retry budget refused a retry or
	// hedge the call wanted.
	BudgetExhausted bool `json:"budgetExhausted,omitempty"`
	// Status is the final status, 0 when the call failed.
	Status int `json:"status,omitempty"`
	// Outcome is "ok", "error" (a 5xx answer) or "failed" (no answer).
	Outcome string `json:"outcome"`
	// Error says why a failed call failed.
	Error string `json:"error,omitempty"`
	// DurationMs is the call's duration, to the end of its response body.
	DurationMs float64 `json:"durationMs"`
	// TraceID links the decision to its trace, when the call was traced.
	TraceID string `json:"traceId,omitempty"`
	// Tries tells each attempt's story, in the order they ended.
	Tries []TryRecord `json:"tries,omitempty"`
}

// DecisionLog keeps the most recent routing decisions of a node's calls,
// for the admin endpoint. It is a [CallObserver]: combine it with others
// through [Observers].
//
// Recording a call copies a few words under a short lock and allocates
// only the error text of a failed call. All methods are safe for
// concurrent use.
type DecisionLog struct {
	mu   sync.Mutex
	ring []decisionSlot
	next int // slot the next decision goes to
	full bool
}

// decisionSlot is a Decision whose tries live in a fixed array, so that
// recording allocates nothing.
type decisionSlot struct {
	d      Decision
	trace  TraceID // formatted when read
	tries  [maxRecordedTries]TryRecord
	ntries int
}

// NewDecisionLog returns a log that keeps the last size decisions; if size
// is 0 or less, [DefaultDecisions].
func NewDecisionLog(size int) *DecisionLog {
	if size <= 0 {
		size = DefaultDecisions
	}
	return &DecisionLog{ring: make([]decisionSlot, size)}
}

// StartCall implements [CallObserver]; it does nothing.
func (l *DecisionLog) StartCall(ctx context.Context, _ *CallInfo) context.Context { return ctx }

// StartAttempt implements [CallObserver]; it does nothing.
func (l *DecisionLog) StartAttempt(ctx context.Context, _ *CallInfo, _ *AttemptInfo) context.Context {
	return ctx
}

// EndAttempt implements [CallObserver]; it does nothing.
func (l *DecisionLog) EndAttempt(context.Context, *CallInfo, *AttemptInfo) {}

// EndCall implements [CallObserver]: it records the call's decision.
func (l *DecisionLog) EndCall(_ context.Context, c *CallInfo) {
	d := Decision{
		Time: c.Start, Destination: c.Destination, Method: c.Method, Path: c.Path,
		Route: c.Route, Subset: c.Subset, Endpoint: c.Endpoint,
		Attempts: c.Attempts, Hedges: c.Hedges, BudgetExhausted: c.BudgetExhausted,
		Status: c.Status, DurationMs: millis(c.End.Sub(c.Start)),
	}
	if len(d.Path) > maxDecisionPath {
		d.Path = d.Path[:maxDecisionPath]
	}
	switch {
	case c.Err != nil:
		d.Outcome, d.Error = "failed", c.Err.Error()
	case c.Status >= 500:
		d.Outcome = "error"
	default:
		d.Outcome = "ok"
	}
	tries := c.Tries()
	l.mu.Lock()
	s := &l.ring[l.next]
	s.d, s.trace = d, c.TraceID
	s.ntries = copy(s.tries[:], tries)
	l.next++
	if l.next == len(l.ring) {
		l.next, l.full = 0, true
	}
	l.mu.Unlock()
}

// Recent returns the decisions kept, newest first: by when the call
// started. (They are recorded when calls end, and a slow call ends after
// faster ones that started later.)
func (l *DecisionLog) Recent() []Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.next
	if l.full {
		n = len(l.ring)
	}
	out := make([]Decision, 0, n)
	for i := 1; i <= n; i++ {
		s := &l.ring[(l.next-i+len(l.ring))%len(l.ring)]
		d := s.d
		d.TraceID = s.trace.String()
		d.Tries = slices.Clone(s.tries[:s.ntries])
		out = append(out, d)
	}
	slices.SortStableFunc(out, func(a, b Decision) int { return b.Time.Compare(a.Time) })
	return out
}
