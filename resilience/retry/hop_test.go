package retry_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/weftmesh/weft/resilience/retry"
)

func TestNoRetryContext(t *testing.T) {
	ctx := t.Context()
	if retry.NoRetry(ctx) {
		t.Fatal("NoRetry on a fresh context = true")
	}
	if !retry.NoRetry(retry.WithNoRetry(ctx)) {
		t.Fatal("NoRetry(WithNoRetry(ctx)) = false")
	}
	if got := retry.FromHeader(ctx, http.Header{}); retry.NoRetry(got) {
		t.Fatal("FromHeader without the header marked the context")
	}
	if got := retry.FromHeader(ctx, nil); got != ctx {
		t.Fatal("FromHeader with a nil header did not return ctx itself")
	}
}

// TestOwnerHeaderRoundTrip carries the mark over a real loopback hop: a
// retrying client sets OwnerHeader, the server turns it into a NoRetry
// context, and the server's own outgoing request forwards the mark.
func TestOwnerHeaderRoundTrip(t *testing.T) {
	// The last hop reports what it received.
	last := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "owner=%q noRetry=%v", r.Header.Get(retry.OwnerHeader),
			retry.NoRetry(retry.FromHeader(r.Context(), r.Header)))
	}))
	defer last.Close()

	// The middle hop calls the last one with its request's context, setting
	// the mark only when that context says a caller owns the retries.
	middle := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := retry.FromHeader(r.Context(), r.Header)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, last.URL, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if retry.NoRetry(ctx) {
			req.Header.Set(retry.OwnerHeader, r.Header.Get(retry.OwnerHeader))
		}
		resp, err := last.Client().Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var body [256]byte
		n, _ := resp.Body.Read(body[:])
		fmt.Fprintf(w, "middle noRetry=%v; last: %s", retry.NoRetry(ctx), body[:n])
	}))
	defer middle.Close()

	call := func(owner string) string {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, middle.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			req.Header.Set(retry.OwnerHeader, owner)
		}
		resp, err := middle.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body [512]byte
		n, _ := resp.Body.Read(body[:])
		return string(body[:n])
	}

	if got, want := call("frontend"), `middle noRetry=true; last: owner="frontend" noRetry=true`; got != want {
		t.Errorf("with the mark:\n got %s\nwant %s", got, want)
	}
	if got, want := call(""), `middle noRetry=false; last: owner="" noRetry=false`; got != want {
		t.Errorf("without the mark:\n got %s\nwant %s", got, want)
	}
}
