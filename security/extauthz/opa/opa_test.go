package opa_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/security/claims"
	"github.com/weftmesh/weft/security/extauthz"
	"github.com/weftmesh/weft/security/extauthz/opa"
)

// fakeOPA answers the data API with a fixed response and keeps the last
// input it received.
type fakeOPA struct {
	mu     sync.Mutex
	status int
	body   string
	hang   bool
	path   string
	input  map[string]any
}

func (f *fakeOPA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var doc struct {
		Input map[string]any `json:"input"`
	}
	b, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(b, &doc)
	f.mu.Lock()
	f.path, f.input = r.URL.Path, doc.Input
	status, body, hang := f.status, f.body, f.hang
	f.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakeOPA) answer(status int, body string) {
	f.mu.Lock()
	f.status, f.body, f.hang = status, body, false
	f.mu.Unlock()
}

func setUp(t *testing.T, cfg extauthz.Config) (*fakeOPA, *extauthz.Authorizer) {
	t.Helper()
	f := &fakeOPA{status: 200, body: `{"result": true}`}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.OPA = &extauthz.OPAConfig{URL: srv.URL, Path: "weft/authz/decision"}
	chk, err := opa.New(*cfg.OPA)
	if err != nil {
		t.Fatal(err)
	}
	a, err := extauthz.New(cfg, chk, extauthz.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		<-a.Done()
	})
	return f, a
}

func request(t *testing.T) *extauthz.Request {
	user, err := claims.Parse([]byte(`{"sub":"alice","plan":"beta"}`))
	if err != nil {
		t.Fatal(err)
	}
	return &extauthz.Request{Service: "payments", Protocol: "grpc", Method: "POST", Path: "/shop.Payments/Charge", Host: "payments",
		Headers: map[string]string{"x-tenant": "acme"}, Source: extauthz.Peer{Principal: "spiffe://example.org/svc/checkout", Service: "checkout"}, Claims: user}
}

func TestInput(t *testing.T) {
	f, a := setUp(t, extauthz.Config{Timeout: 5 * time.Second})
	if d := a.Authorize(context.Background(), request(t)); !d.Allow || d.Failed {
		t.Fatalf("%+v", d)
	}
	if f.path != "/v1/data/weft/authz/decision" {
		t.Errorf("path %q", f.path)
	}
	in := f.input
	src, _ := in["source"].(map[string]any)
	cl, _ := in["claims"].(map[string]any)
	hd, _ := in["headers"].(map[string]any)
	if in["service"] != "payments" || in["protocol"] != "grpc" || in["method"] != "POST" || in["path"] != "/shop.Payments/Charge" ||
		src["principal"] != "spiffe://example.org/svc/checkout" || src["service"] != "checkout" || cl["plan"] != "beta" || hd["x-tenant"] != "acme" {
		t.Errorf("input %v", in)
	}
	r := request(t)
	r.Claims = nil
	a.Authorize(context.Background(), r)
	if _, ok := f.input["claims"]; ok {
		t.Error("claims sent for a request without a token")
	}
}

func TestDecisions(t *testing.T) {
	f, a := setUp(t, extauthz.Config{Timeout: 5 * time.Second})
	for _, tc := range []struct {
		name, body string
		check      func(extauthz.Decision) bool
	}{
		{"true", `{"result": true}`, func(d extauthz.Decision) bool { return d.Allow && !d.Failed }},
		{"false", `{"result": false}`, func(d extauthz.Decision) bool { return !d.Allow && !d.Failed && d.DenialStatus() == 403 }},
		{"undefined denies", `{}`, func(d extauthz.Decision) bool {
			return !d.Allow && !d.Failed && strings.Contains(d.Reason, "undefined")
		}},
		{"object", `{"result": {"allow": false, "status": 401, "body": "who?", "response_headers": {"x-why": "policy"}, "reason": "no plan"}}`,
			func(d extauthz.Decision) bool {
				return !d.Allow && d.DenialStatus() == 401 && d.Body == "who?" && d.ResponseHeaders[0].Name == "x-why" && d.Reason == "no plan"
			}},
		{"object allow with headers", `{"result": {"allow": true, "headers": {"x-user": "alice", "x-plan": "beta"}, "cache_ttl_seconds": 2.5}}`,
			func(d extauthz.Decision) bool {
				return d.Allow && len(d.RequestHeaders) == 2 && d.RequestHeaders[0].Name == "x-plan" && d.CacheFor == 2500*time.Millisecond
			}},
	} {
		f.answer(200, tc.body)
		if d := a.Authorize(context.Background(), request(t)); !tc.check(d) {
			t.Errorf("%s: %+v", tc.name, d)
		}
	}
}

func TestGarbage(t *testing.T) {
	f, a := setUp(t, extauthz.Config{Timeout: 5 * time.Second})
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{500, `{"code":"internal_error"}`, "opa answered 500"},
		{404, `not found`, "opa answered 404"},
		{200, `<html>`, "not JSON"},
		{200, `{"result": "yes"}`, "neither a boolean nor an object"},
		{200, `{"result": {"status": 403}}`, "has no boolean allow"},
		{200, `{"result": {"allow": "true"}}`, "neither a boolean nor an object"},
		{200, `{"result": {"allow": true, "cache_ttl_seconds": -1}}`, "cache_ttl_seconds"},
		{200, `{"result": {"allow": true, "headers": {"bad name": "x"}}}`, "invalid name"},
		{200, `{"result": {"allow": false, "status": 302}}`, "not an HTTP error status"},
	} {
		f.answer(tc.status, tc.body)
		d := a.Authorize(context.Background(), request(t))
		if !d.Failed || d.Allow || d.Err == nil || !strings.Contains(d.Err.Error(), tc.want) {
			t.Errorf("%d %s: %+v, want an error with %q", tc.status, tc.body, d, tc.want)
		}
	}
}

func TestHangAndDown(t *testing.T) {
	f, a := setUp(t, extauthz.Config{Timeout: 150 * time.Millisecond, FailureMode: extauthz.FailAllow})
	f.mu.Lock()
	f.hang = true
	f.mu.Unlock()
	start := time.Now()
	if d := a.Authorize(context.Background(), request(t)); !d.Failed || !d.Allow {
		t.Errorf("hanging OPA, allow mode: %+v", d)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("a hanging OPA held the check %v", elapsed)
	}
	f.answer(200, `{"result": true}`)

	chk, err := opa.New(extauthz.OPAConfig{URL: "http://127.0.0.1:1", Path: "x"})
	if err != nil {
		t.Fatal(err)
	}
	down, err := extauthz.New(extauthz.Config{OPA: &extauthz.OPAConfig{URL: "http://127.0.0.1:1", Path: "x"}}, chk, extauthz.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { down.Close(); <-down.Done() }()
	if d := down.Authorize(context.Background(), request(t)); !d.Failed || d.Allow || d.DenialStatus() != 503 {
		t.Errorf("OPA down: %+v", d)
	}
}

// FuzzDecode feeds arbitrary answers to the decoder: it never panics, and
// an answer it accepts is a decision.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"result":true}`, `{}`, `{"result":{"allow":true,"headers":{"a":"b"},"cache_ttl_seconds":1}}`,
		`{"result":{"allow":false,"status":401}}`, `{"result":null}`, `[]`, `{"result":1e999}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ans, err := opa.Decode(b, "weft/allow")
		if err != nil {
			return
		}
		if ans.CacheFor < 0 || ans.CacheFor > 24*time.Hour {
			t.Fatalf("cache time %v", ans.CacheFor)
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
	})
}
