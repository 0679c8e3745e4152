package extauthz_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/clocktest"
	"github.com/weftmesh/weft/security/claims"
	"github.com/weftmesh/weft/security/extauthz"
)

// fakeChecker answers with a function and counts calls; it stands in for
// a server in tests of what the Authorizer itself decides.
type fakeChecker struct {
	calls  atomic.Int64
	closed atomic.Bool
	check  func(ctx context.Context, r *extauthz.Request) (extauthz.Answer, error)
}

func (f *fakeChecker) Check(ctx context.Context, r *extauthz.Request) (extauthz.Answer, error) {
	f.calls.Add(1)
	return f.check(ctx, r)
}

func (f *fakeChecker) Close() error {
	f.closed.Store(true)
	return nil
}

func answer(a extauthz.Answer) func(context.Context, *extauthz.Request) (extauthz.Answer, error) {
	return func(context.Context, *extauthz.Request) (extauthz.Answer, error) { return a, nil }
}

var someEnvoy = &extauthz.EnvoyConfig{Address: "127.0.0.1:1"}

func newAuthorizer(t *testing.T, cfg extauthz.Config, f *fakeChecker, now func() time.Time) *extauthz.Authorizer {
	t.Helper()
	if cfg.Envoy == nil && cfg.OPA == nil {
		cfg.Envoy = someEnvoy
	}
	a, err := extauthz.New(cfg, f, extauthz.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		<-a.Done()
	})
	return a
}

func request(path string) *extauthz.Request {
	return &extauthz.Request{Service: "payments", Protocol: "http", Method: "GET", Path: path, Headers: map[string]string{"x-tenant": "a"},
		Source: extauthz.Peer{Principal: "spiffe://example.org/svc/checkout", Service: "checkout"}}
}

func TestFailureModes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  extauthz.FailureMode
		check func(context.Context, *extauthz.Request) (extauthz.Answer, error)
		allow bool
	}{
		{"error, deny", "", func(context.Context, *extauthz.Request) (extauthz.Answer, error) {
			return extauthz.Answer{}, errors.New("down")
		}, false},
		{"error, allow", extauthz.FailAllow, func(context.Context, *extauthz.Request) (extauthz.Answer, error) {
			return extauthz.Answer{}, errors.New("down")
		}, true},
		{"garbage header, deny", extauthz.FailDeny, answer(extauthz.Answer{Allow: true, RequestHeaders: []extauthz.Header{{Name: "bad name", Value: "x"}}}), false},
		{"header value with newline", extauthz.FailDeny, answer(extauthz.Answer{Allow: true, ResponseHeaders: []extauthz.Header{{Name: "x", Value: "a\r\nb"}}}), false},
		{"reserved header", extauthz.FailDeny, answer(extauthz.Answer{Allow: true, RequestHeaders: []extauthz.Header{{Name: "Weft-Source", Value: "admin"}}}), false},
		{"removing host", extauthz.FailDeny, answer(extauthz.Answer{Allow: true, RemoveHeaders: []string{"host"}}), false},
		{"denial with status 200", extauthz.FailAllow, answer(extauthz.Answer{Status: 200}), true},
	} {
		f := &fakeChecker{check: tc.check}
		a := newAuthorizer(t, extauthz.Config{FailureMode: tc.mode}, f, nil)
		d := a.Authorize(context.Background(), request("/"))
		if !d.Failed || d.Allow != tc.allow || d.Err == nil {
			t.Errorf("%s: %+v", tc.name, d)
		}
		if !tc.allow && d.DenialStatus() != http.StatusServiceUnavailable {
			t.Errorf("%s: denial status %d, want 503", tc.name, d.DenialStatus())
		}
	}
}

// TestTimeout checks that a hanging server holds a request no longer
// than the timeout, or than the request's own deadline when shorter.
func TestTimeout(t *testing.T) {
	hang := func(ctx context.Context, _ *extauthz.Request) (extauthz.Answer, error) {
		<-ctx.Done()
		return extauthz.Answer{}, ctx.Err()
	}
	a := newAuthorizer(t, extauthz.Config{Timeout: 100 * time.Millisecond}, &fakeChecker{check: hang}, nil)
	start := time.Now()
	d := a.Authorize(context.Background(), request("/"))
	if elapsed := time.Since(start); elapsed < 90*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("a hanging check took %v with a 100 ms timeout", elapsed)
	}
	if !d.Failed || d.Allow || !errors.Is(d.Err, context.DeadlineExceeded) {
		t.Errorf("%+v", d)
	}
	slow := newAuthorizer(t, extauthz.Config{Timeout: 5 * time.Second}, &fakeChecker{check: hang}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	slow.Authorize(ctx, request("/"))
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("a check outlived its request's 100 ms deadline: %v", elapsed)
	}
}

func TestDecisionsPassThrough(t *testing.T) {
	f := &fakeChecker{check: answer(extauthz.Answer{Status: 401, Body: "log in", Reason: "no session",
		ResponseHeaders: []extauthz.Header{{Name: "WWW-Authenticate", Value: "Bearer"}}})}
	d := newAuthorizer(t, extauthz.Config{}, f, nil).Authorize(context.Background(), request("/"))
	if d.Allow || d.Failed || d.DenialStatus() != 401 || d.Body != "log in" || d.Reason != "no session" {
		t.Errorf("%+v", d)
	}
	h := http.Header{}
	d.ApplyToResponse(h)
	if h.Get("Www-Authenticate") != "Bearer" {
		t.Errorf("response headers %v", h)
	}
	if (extauthz.Decision{}).DenialStatus() != http.StatusForbidden {
		t.Error("default denial status is not 403")
	}
}

func TestApplyToRequest(t *testing.T) {
	d := extauthz.Decision{Answer: extauthz.Answer{Allow: true,
		RemoveHeaders: []string{"authorization", "X-Drop"},
		RequestHeaders: []extauthz.Header{
			{Name: "x-user", Value: "alice"},
			{Name: "x-tag", Value: "b", Action: extauthz.AppendHeader},
			{Name: "x-once", Value: "new", Action: extauthz.AddHeaderIfAbsent},
			{Name: "x-absent", Value: "new", Action: extauthz.AddHeaderIfAbsent},
			{Name: "x-present", Value: "new", Action: extauthz.SetHeaderIfPresent},
			{Name: "x-missing", Value: "new", Action: extauthz.SetHeaderIfPresent},
		}}}
	h := http.Header{"Authorization": {"Bearer x"}, "X-Drop": {"1"}, "X-User": {"mallory"}, "X-Tag": {"a"}, "X-Once": {"old"}, "X-Present": {"old"}}
	d.ApplyToRequest(h, false)
	want := http.Header{"X-User": {"alice"}, "X-Tag": {"a", "b"}, "X-Once": {"old"}, "X-Absent": {"new"}, "X-Present": {"new"}}
	if len(h) != len(want) {
		t.Errorf("headers %v, want %v", h, want)
	}
	for k, v := range want {
		if !slices.Equal(h[k], v) {
			t.Errorf("%s: %q, want %q", k, h[k], v)
		}
	}
	md := map[string][]string{"authorization": {"x"}, "x-user": {"m"}}
	d.ApplyToRequest(md, true)
	if _, ok := md["authorization"]; ok || md["x-user"][0] != "alice" {
		t.Errorf("metadata %v", md)
	}
}

// TestCache checks that a decision is reused only when the server allows
// it, no longer than both it and the Config allow, and only for a request
// the server would see as the same.
func TestCache(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	cacheFor := 10 * time.Second
	f := &fakeChecker{check: func(_ context.Context, r *extauthz.Request) (extauthz.Answer, error) {
		return extauthz.Answer{Allow: r.Path != "/deny", CacheFor: cacheFor}, nil
	}}
	a := newAuthorizer(t, extauthz.Config{CacheTTL: 5 * time.Second}, f, clk.Now)
	ctx := context.Background()
	a.Authorize(ctx, request("/a"))
	if d := a.Authorize(ctx, request("/a")); !d.Cached || !d.Allow || f.calls.Load() != 1 {
		t.Errorf("second identical request: %+v, %d calls", d, f.calls.Load())
	}
	// Denials are cached too.
	a.Authorize(ctx, request("/deny"))
	if d := a.Authorize(ctx, request("/deny")); !d.Cached || d.Allow {
		t.Errorf("cached denial: %+v", d)
	}
	calls := f.calls.Load()
	user, _ := claims.Parse([]byte(`{"sub":"alice"}`))
	for _, r := range []*extauthz.Request{
		func() *extauthz.Request { r := request("/a"); r.Headers = map[string]string{"x-tenant": "b"}; return r }(),
		func() *extauthz.Request {
			r := request("/a")
			r.Source.Principal = "spiffe://example.org/svc/other"
			return r
		}(),
		func() *extauthz.Request { r := request("/a"); r.Claims = user; return r }(),
		func() *extauthz.Request { r := request("/a"); r.Method = "POST"; return r }(),
		func() *extauthz.Request { r := request("/a"); r.Query = "x=1"; return r }(),
	} {
		if d := a.Authorize(ctx, r); d.Cached {
			t.Errorf("a different request got a cached decision: %+v", r)
		}
	}
	if got := f.calls.Load() - calls; got != 5 {
		t.Errorf("%d checks for 5 different requests", got)
	}
	// The Config's TTL (5 s) bounds the server's (10 s).
	clk.Advance(5 * time.Second)
	if d := a.Authorize(ctx, request("/a")); d.Cached {
		t.Error("a decision was reused past cacheTTL")
	}
	// No caching when the server does not allow it.
	cacheFor = 0
	clk.Advance(time.Minute)
	n := f.calls.Load()
	a.Authorize(ctx, request("/b"))
	a.Authorize(ctx, request("/b"))
	if f.calls.Load()-n != 2 {
		t.Error("a decision the server did not allow to be cached was reused")
	}
	// Nor without cacheTTL, whatever the server says.
	cacheFor = time.Minute
	off := newAuthorizer(t, extauthz.Config{}, f, clk.Now)
	n = f.calls.Load()
	off.Authorize(ctx, request("/c"))
	off.Authorize(ctx, request("/c"))
	if f.calls.Load()-n != 2 || off.Cached() != 0 {
		t.Error("a decision was cached without cacheTTL")
	}
	// Failures are never cached.
	failing := newAuthorizer(t, extauthz.Config{CacheTTL: time.Minute}, &fakeChecker{check: func(context.Context, *extauthz.Request) (extauthz.Answer, error) {
		return extauthz.Answer{}, errors.New("down")
	}}, clk.Now)
	failing.Authorize(ctx, request("/"))
	if d := failing.Authorize(ctx, request("/")); d.Cached {
		t.Error("a failure was cached")
	}
}

func TestHeadersSent(t *testing.T) {
	h := map[string][]string{"X-Tenant": {"a", "b"}, "Authorization": {"Bearer x"}, ":authority": {"p"}, "Cookie": {"c=1"}}
	all := newAuthorizer(t, extauthz.Config{}, &fakeChecker{}, nil).Headers(h)
	if len(all) != 3 || all["x-tenant"] != "a,b" || all["authorization"] != "Bearer x" {
		t.Errorf("all headers: %v", all)
	}
	some := newAuthorizer(t, extauthz.Config{Headers: []string{"X-TENANT"}}, &fakeChecker{}, nil).Headers(h)
	if len(some) != 1 || some["x-tenant"] != "a,b" {
		t.Errorf("listed headers: %v", some)
	}
}

// TestCloseWaitsForChecks checks that a replaced Authorizer still serves
// the requests that picked it up, then closes its checker.
func TestCloseWaitsForChecks(t *testing.T) {
	release := make(chan struct{})
	f := &fakeChecker{check: func(ctx context.Context, _ *extauthz.Request) (extauthz.Answer, error) {
		select {
		case <-release:
			return extauthz.Answer{Allow: true}, nil
		case <-ctx.Done():
			return extauthz.Answer{}, ctx.Err()
		}
	}}
	a, err := extauthz.New(extauthz.Config{Envoy: someEnvoy, Timeout: 2 * time.Second}, f, extauthz.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan extauthz.Decision)
	go func() { got <- a.Authorize(context.Background(), request("/")) }()
	awaitCalls(t, f, 1)
	a.Close()
	a.Close()
	// Within the grace period a straggler is still checked.
	go func() { got <- a.Authorize(context.Background(), request("/")) }()
	awaitCalls(t, f, 2)
	close(release)
	for range 2 {
		if d := <-got; !d.Allow || d.Failed {
			t.Errorf("a check in flight at Close: %+v", d)
		}
	}
	select {
	case <-a.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the checker was never closed")
	}
	if !f.closed.Load() {
		t.Error("Done without Close on the checker")
	}
	if d := a.Authorize(context.Background(), request("/")); !d.Failed || d.Allow {
		t.Errorf("after close: %+v", d)
	}
}

// awaitCalls waits until f has been asked n times, failing the test after
// 10 s.
func awaitCalls(t *testing.T, f *fakeChecker, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.calls.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the checker was asked %d times within 10s, want %d", f.calls.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  extauthz.Config
		want string
	}{
		{extauthz.Config{}, "envoy: set envoy"},
		{extauthz.Config{Envoy: someEnvoy, OPA: &extauthz.OPAConfig{URL: "http://x", Path: "a"}}, "opa: set envoy or opa, not both"},
		{extauthz.Config{Envoy: &extauthz.EnvoyConfig{}}, "envoy.address: required"},
		{extauthz.Config{Envoy: &extauthz.EnvoyConfig{Address: "nohost"}}, "is not host:port"},
		{extauthz.Config{Envoy: &extauthz.EnvoyConfig{Address: "a:1", ServerName: "x"}}, "envoy.serverName: only used with ca"},
		{extauthz.Config{OPA: &extauthz.OPAConfig{Path: "a"}}, "opa.url: required"},
		{extauthz.Config{OPA: &extauthz.OPAConfig{URL: "ftp://x", Path: "a"}}, "not an http:// or https:// URL"},
		{extauthz.Config{OPA: &extauthz.OPAConfig{URL: "http://x/v1/data", Path: "a"}}, "has a path"},
		{extauthz.Config{OPA: &extauthz.OPAConfig{URL: "http://x"}}, "opa.path: required"},
		{extauthz.Config{OPA: &extauthz.OPAConfig{URL: "http://x", Path: "/v1/data/weft/allow"}}, "write the path below /v1/data/, like weft/allow"},
		{extauthz.Config{OPA: &extauthz.OPAConfig{URL: "http://x", Path: "a//b"}}, "empty, '.' or '..' segment"},
		{extauthz.Config{OPA: &extauthz.OPAConfig{URL: "http://x", Path: "a?b"}}, "a segment holds"},
		{extauthz.Config{OPA: &extauthz.OPAConfig{URL: "http://x", Path: "a", CA: "ca.pem"}}, "opa.ca: only used with an https:// url"},
		{extauthz.Config{Envoy: someEnvoy, Timeout: time.Minute}, "timeout: must be between"},
		{extauthz.Config{Envoy: someEnvoy, FailureMode: "open"}, `"open" is not a failure mode`},
		{extauthz.Config{Envoy: someEnvoy, Headers: []string{"a b"}}, "headers[0]"},
		{extauthz.Config{Envoy: someEnvoy, CacheTTL: time.Hour}, "cacheTTL: must be between"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "extauthz: ") {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if err := (extauthz.Config{OPA: &extauthz.OPAConfig{URL: "https://opa:8181", Path: "weft/authz/allow"}}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestStop(t *testing.T) {
	f := &fakeChecker{check: answer(extauthz.Answer{Allow: true})}
	a, err := extauthz.New(extauthz.Config{Envoy: someEnvoy, Timeout: 5 * time.Second}, f, extauthz.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.Authorize(context.Background(), request("/"))
	a.Close()
	start := time.Now()
	a.Stop()
	a.Stop()
	if !f.closed.Load() || time.Since(start) > time.Second {
		t.Errorf("Stop did not close the checker at once (closed %v after %v)", f.closed.Load(), time.Since(start))
	}
}
