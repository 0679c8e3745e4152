package opa_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/opatest"
	"github.com/weftmesh/weft/security/claims"
	"github.com/weftmesh/weft/security/extauthz"
	"github.com/weftmesh/weft/security/extauthz/opa"
)

// shopPolicy is the Rego policy the tests against a real OPA evaluate:
// checkout may charge; a user with the orders.read scope may read; a
// denial for users without a plan carries its own status and body.
const shopPolicy = `package weft.authz

default allow := false

allow if {
	input.source.service == "checkout"
	input.method == "POST"
	input.path == "/charge"
}

allow if {
	input.method == "GET"
	"orders.read" in input.claims.scp
	input.headers["x-tenant"] == "acme"
}

decision := {"allow": true, "headers": {"x-user": input.claims.sub}, "cache_ttl_seconds": 30} if allow

decision := {"allow": false, "status": 402, "body": "subscribe first"} if {
	not allow
	not input.claims.plan
}

decision := {"allow": false} if {
	not allow
	input.claims.plan
}
`

func realOPA(t *testing.T, path string, cfg extauthz.Config) *extauthz.Authorizer {
	t.Helper()
	o := opatest.New(t, shopPolicy)
	cfg.OPA = &extauthz.OPAConfig{URL: o.URL(), Path: path}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	chk, err := opa.New(*cfg.OPA)
	if err != nil {
		t.Fatal(err)
	}
	a, err := extauthz.New(cfg, chk, extauthz.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop() })
	return a
}

func userRequest(t *testing.T, method, path, payload, tenant string) *extauthz.Request {
	r := &extauthz.Request{Service: "orders", Protocol: "http", Method: method, Path: path, Headers: map[string]string{"x-tenant": tenant},
		Source: extauthz.Peer{Principal: "spiffe://example.org/svc/frontend", Service: "frontend"}}
	if payload != "" {
		c, err := claims.Parse([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		r.Claims = c
	}
	return r
}

// TestRealOPA asks a real OPA, through its data API, for a boolean
// decision and an object one, and for a decision the policy does not
// define.
func TestRealOPA(t *testing.T) {
	ctx := context.Background()
	allow := realOPA(t, "weft/authz/allow", extauthz.Config{})
	checkout := &extauthz.Request{Service: "payments", Protocol: "http", Method: "POST", Path: "/charge", Source: extauthz.Peer{Service: "checkout"}}
	if d := allow.Authorize(ctx, checkout); !d.Allow || d.Failed {
		t.Errorf("checkout charge: %+v", d)
	}
	reader := userRequest(t, "GET", "/orders/1", `{"sub":"alice","scp":["orders.read"],"plan":"gold"}`, "acme")
	if d := allow.Authorize(ctx, reader); !d.Allow {
		t.Errorf("reader: %+v", d)
	}
	if d := allow.Authorize(ctx, userRequest(t, "GET", "/orders/1", `{"sub":"alice","scp":["orders.read"]}`, "globex")); d.Allow || d.Failed || d.DenialStatus() != 403 {
		t.Errorf("other tenant: %+v", d)
	}
	if d := allow.Authorize(ctx, userRequest(t, "GET", "/orders/1", "", "acme")); d.Allow || d.Failed {
		t.Errorf("no claims: %+v", d)
	}

	decision := realOPA(t, "weft/authz/decision", extauthz.Config{CacheTTL: time.Minute})
	d := decision.Authorize(ctx, reader)
	if !d.Allow || len(d.RequestHeaders) != 1 || d.RequestHeaders[0].Value != "alice" || d.CacheFor != 30*time.Second {
		t.Errorf("object decision: %+v", d)
	}
	if d := decision.Authorize(ctx, reader); !d.Cached {
		t.Errorf("a decision OPA allowed to cache was asked again: %+v", d)
	}
	if d := decision.Authorize(ctx, userRequest(t, "POST", "/orders", `{"sub":"bob"}`, "acme")); d.Allow || d.DenialStatus() != 402 || d.Body != "subscribe first" {
		t.Errorf("denial with a status: %+v", d)
	}

	undefined := realOPA(t, "weft/authz/nothing_here", extauthz.Config{FailureMode: extauthz.FailAllow})
	if d := undefined.Authorize(ctx, checkout); d.Allow || d.Failed || !strings.Contains(d.Reason, "undefined") {
		t.Errorf("undefined decision, allow mode: %+v", d)
	}
}
