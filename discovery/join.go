package discovery

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// Join retry backoff: quick at first, for seeds that start at the same
// time, then no more than a few attempts a second.
const (
	joinBackoffMin = 50 * time.Millisecond
	joinBackoffMax = 2 * time.Second
)

// JoinError is returned by [Start] when no seed answered before the
// context ended.
type JoinError struct {
	// Seeds are the seeds tried, as given in Config.Join.
	Seeds []string
	// Last is the error of the last attempt.
	Last error
	// Cause is the context's error.
	Cause error
}

// Error says which seeds were tried and why the last attempt failed.
func (e *JoinError) Error() string {
	return fmt.Sprintf("discovery: join: no seed answered (tried %s): %v", strings.Join(e.Seeds, ", "), e.Last)
}

// Unwrap returns the last attempt's error and the context's error, so
// that errors.Is(err, context.DeadlineExceeded) works.
func (e *JoinError) Unwrap() []error { return []error{e.Last, e.Cause} }

// join contacts the seeds until one answers or ctx ends. Each attempt
// tries every seed; an attempt in progress is not interrupted by ctx, and
// lasts at most Timing.TCPTimeout per seed.
func join(ctx context.Context, ml *memberlist.Memberlist, seeds []string) error {
	backoff := joinBackoffMin
	for {
		n, err := ml.Join(seeds)
		if n > 0 {
			return nil
		}
		last := lastError(err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return &JoinError{Seeds: slices.Clone(seeds), Last: last, Cause: ctx.Err()}
		case <-t.C:
		}
		backoff = min(2*backoff, joinBackoffMax)
	}
}

// lastError unwraps memberlist's multi-error (one error per seed, printed
// over several lines) into the last seed's error.
func lastError(err error) error {
	if me, ok := err.(interface{ WrappedErrors() []error }); ok {
		if errs := me.WrappedErrors(); len(errs) > 0 {
			return errs[len(errs)-1]
		}
	}
	return err
}
