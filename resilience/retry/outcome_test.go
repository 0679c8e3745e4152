package retry_test

import (
	"net/http"
	"testing"

	"github.com/weftmesh/weft/resilience/retry"
)

func status(code int) retry.Outcome { return retry.Outcome{Status: code} }

func failure(f retry.Failure) retry.Outcome { return retry.Outcome{Failure: f} }

func TestRetryable(t *testing.T) {
	all := retry.Config{On: []string{"connect-failure", "reset", "5xx", "gateway-error", "429"}}
	defaults := retry.Config{}
	only5xx := retry.Config{On: []string{"5xx"}}
	keyed := http.Header{"Idempotency-Key": {"order-42"}}

	tests := []struct {
		name    string
		cfg     retry.Config
		method  string
		hdr     http.Header
		routeID bool
		outcome retry.Outcome
		want    bool
	}{
		// Nothing reached the server: any method.
		{"POST after connect failure", all, "POST", nil, false, failure(retry.ConnectFailure), true},
		{"POST after refused stream", all, "POST", nil, false, failure(retry.RefusedStream), true},
		{"PATCH after connect failure, defaults", defaults, "PATCH", nil, false, failure(retry.ConnectFailure), true},

		// The server may have processed it: POST is never sent twice.
		{"POST after reset", all, "POST", nil, false, failure(retry.Reset), false},
		{"POST after timeout", all, "POST", nil, false, failure(retry.Timeout), false},
		{"POST after 500", all, "POST", nil, false, status(500), false},
		{"POST after 503", all, "POST", nil, false, status(503), false},
		{"POST after 429", all, "POST", nil, false, status(429), false},
		{"PATCH after 502", all, "PATCH", nil, false, status(502), false},

		// Idempotent methods, routes and keys.
		{"GET after 500 when 5xx listed", all, "GET", nil, false, status(500), true},
		{"empty method is GET", all, "", nil, false, status(500), true},
		{"lowercase get is not GET", all, "get", nil, false, status(500), false},
		{"HEAD after reset", all, "HEAD", nil, false, failure(retry.Reset), true},
		{"PUT after timeout", all, "PUT", nil, false, failure(retry.Timeout), true},
		{"DELETE after 504", all, "DELETE", nil, false, status(504), true},
		{"OPTIONS after 429", all, "OPTIONS", nil, false, status(429), true},
		{"TRACE after 503", all, "TRACE", nil, false, status(503), true},
		{"POST with Idempotency-Key after 500", all, "POST", keyed, false, status(500), true},
		{"POST with empty Idempotency-Key", all, "POST", http.Header{"Idempotency-Key": {""}}, false, status(500), false},
		{"POST on idempotent route after reset", all, "POST", nil, true, failure(retry.Reset), true},

		// Conditions must be listed.
		{"GET after 500, defaults list only gateway errors", defaults, "GET", nil, false, status(500), false},
		{"GET after 503, defaults", defaults, "GET", nil, false, status(503), true},
		{"GET after reset, defaults", defaults, "GET", nil, false, failure(retry.Reset), false},
		{"GET after 429, defaults", defaults, "GET", nil, false, status(429), false},
		{"GET after connect failure, only 5xx", only5xx, "GET", nil, false, failure(retry.ConnectFailure), false},
		{"GET after 599, only 5xx", only5xx, "GET", nil, false, status(599), true},
		{"GET after 600, only 5xx", only5xx, "GET", nil, false, status(600), false},
		{"GET after 429, only 429", retry.Config{On: []string{"429"}}, "GET", nil, false, status(429), true},
		{"GET after 501, only gateway-error", retry.Config{On: []string{"gateway-error"}}, "GET", nil, false, status(501), false},
		{"GET after reset, only reset", retry.Config{On: []string{"reset"}}, "GET", nil, false, failure(retry.Reset), true},
		{"GET after timeout, only reset", retry.Config{On: []string{"reset"}}, "GET", nil, false, failure(retry.Timeout), true},
		{"unknown condition matches nothing", retry.Config{On: []string{"always"}}, "GET", nil, false, status(500), false},

		// Successes and client errors are never retried.
		{"GET after 200", all, "GET", nil, false, status(200), false},
		{"GET after 404", all, "GET", nil, false, status(404), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := retry.Retryable(tt.cfg, tt.method, tt.hdr, tt.routeID, tt.outcome)
			if got != tt.want {
				t.Errorf("Retryable(%v, %q, %v, %v, %+v) = %v, want %v",
					tt.cfg.On, tt.method, tt.hdr, tt.routeID, tt.outcome, got, tt.want)
			}
		})
	}
}

func TestIdempotent(t *testing.T) {
	for _, m := range []string{"", "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"} {
		if !retry.Idempotent(m, nil, false) {
			t.Errorf("Idempotent(%q) = false, want true", m)
		}
	}
	for _, m := range []string{"POST", "PATCH", "CONNECT", "PROPFIND", "put"} {
		if retry.Idempotent(m, nil, false) {
			t.Errorf("Idempotent(%q) = true, want false", m)
		}
		if !retry.Idempotent(m, nil, true) {
			t.Errorf("Idempotent(%q) on an idempotent route = false, want true", m)
		}
	}
	h := http.Header{}
	h.Set("idempotency-key", "k1") // canonicalised by Set
	if !retry.Idempotent("POST", h, false) {
		t.Error("POST with Idempotency-Key: Idempotent = false, want true")
	}
}

func TestOutcomeUnprocessed(t *testing.T) {
	want := map[retry.Failure]bool{
		retry.NoFailure: false, retry.ConnectFailure: true, retry.RefusedStream: true,
		retry.Reset: false, retry.Timeout: false,
	}
	for f, w := range want {
		if got := failure(f).Unprocessed(); got != w {
			t.Errorf("Outcome{Failure: %d}.Unprocessed() = %v, want %v", f, got, w)
		}
	}
}
