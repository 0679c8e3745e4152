package fielderr_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/weftmesh/weft/internal/fielderr"
)

func TestErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		e    fielderr.Error
		want string
	}{
		{fielderr.Error{Key: "circuitBreaker.window", Msg: "must not be negative"}, "circuitBreaker.window: must not be negative"},
		{fielderr.Error{Pkg: "retry", Key: "retries.attempts", Msg: "must be between 1 and 10, got 30"}, "retry: retries.attempts: must be between 1 and 10, got 30"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestEmptyListIsNil(t *testing.T) {
	var l fielderr.List
	if err := l.Err(); err != nil {
		t.Fatalf("empty List.Err() = %#v, want nil", err)
	}
	if err := l.Prefix("x").From("p").Err(); err != nil {
		t.Fatalf("empty List.Prefix.From.Err() = %#v, want nil", err)
	}
	if err := (fielderr.List{}).Err(); err != nil {
		t.Fatalf("non-nil empty List.Err() = %#v, want nil", err)
	}
}

func TestListError(t *testing.T) {
	var l fielderr.List
	l.Add("attempts", "must be between 1 and %d, got %d", 10, 30)
	l.Add("on[0]", "unknown condition %q", "bogus")
	err := l.Prefix("retries").From("retry").Err()
	want := "retry: retries.attempts: must be between 1 and 10, got 30\nretry: retries.on[0]: unknown condition \"bogus\""
	if err == nil || err.Error() != want {
		t.Fatalf("Err() = %v, want %q", err, want)
	}
	// Prefix and From copy: the original list keeps its keys and package.
	if l[0].Key != "attempts" || l[0].Pkg != "" {
		t.Errorf("original changed to %+v", *l[0])
	}

	var first *fielderr.Error
	if !errors.As(err, &first) || first.Key != "retries.attempts" || first.Pkg != "retry" {
		t.Errorf("errors.As(*Error) = %+v, want the first problem", first)
	}
	var all fielderr.List
	if !errors.As(fmt.Errorf("outer: %w", err), &all) || len(all) != 2 {
		t.Errorf("errors.As(List) through a wrap = %v", all)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("%T has no Unwrap() []error", err)
	}
	parts := joined.Unwrap()
	if len(parts) != 2 || parts[1].Error() != "retry: retries.on[0]: unknown condition \"bogus\"" {
		t.Errorf("Unwrap() = %v", parts)
	}
}

func TestAppendNested(t *testing.T) {
	var inner fielderr.List
	inner.Add("rps", "must be greater than 0")
	var l fielderr.List
	l.Add("rateLimit", "set perCaller, total or both")
	l = append(l, inner.Prefix("rateLimit.perCaller")...)
	want := "rateLimit: set perCaller, total or both\nrateLimit.perCaller.rps: must be greater than 0"
	if got := l.Err().Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
