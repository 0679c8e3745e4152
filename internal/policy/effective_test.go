package policy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/resilience/breaker"
	"github.com/weftmesh/weft/resilience/outlier"
)

func TestEffectiveFillsDefaultsAndHidesSecrets(t *testing.T) {
	const key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes, base64
	p, err := Parse("", []byte(`version: 1
mesh: {name: shop, gossipKey: "`+key+`"}
telemetry:
  tracing: {otlp: {endpoint: "127.0.0.1:4317", headers: {authorization: "Bearer s3cret-token"}}}
services:
  payments: {retries: {attempts: 3}, timeout: 2s}
`))
	if err != nil {
		t.Fatal(err)
	}
	eff := p.Effective()
	b, err := json.Marshal(eff)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, secret := range []string{key, "0123456789abcdef", "s3cret-token"} {
		if strings.Contains(out, secret) {
			t.Errorf("the effective policy shows a secret %q: %s", secret, out)
		}
	}
	if m := eff["mesh"].(map[string]any); m["gossipEncrypted"] != true {
		t.Errorf("mesh = %v, want gossipEncrypted", m)
	}
	pay := eff["services"].(map[string]any)["payments"].(map[string]any)
	retries := pay["retries"].(map[string]any)
	if pay["timeout"] != "2s" || pay["loadBalancer"] != "least_request" || retries["attempts"] != 3 || retries["on"] == nil {
		t.Errorf("payments = %v, want its own timeout and attempts with the defaults filled in", pay)
	}
	def := eff["defaults"].(map[string]any)
	if def["timeout"] != "5s" || def["loadBalancer"] != "least_request" {
		t.Errorf("defaults = %v", def)
	}
}

// The normalised policy fills the zero fields of breakers and outlier
// detection, as it fills the retry policy's, so that the engine, the
// effective policy and the admin endpoint see the values in force; the
// file's own sections are left as written.
func TestNormalisedPolicyFillsBreakerAndOutlierDefaults(t *testing.T) {
	p, err := Parse("", []byte(`version: 1
defaults:
  outlierDetection: {ejectFor: 1m}
services:
  payments:
    circuitBreaker: {consecutiveFailures: 3}
  carts: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	rt := p.Routing()
	wantBreaker := breaker.Config{ConsecutiveFailures: 3, MinRequests: 20, Window: 10 * time.Second, OpenFor: 30 * time.Second, HalfOpenRequests: 1}
	if b := rt.Destinations["payments"].CircuitBreaker; b == nil || *b != wantBreaker {
		t.Errorf("payments' breakers %+v, want %+v", b, wantBreaker)
	}
	wantOutlier := outlier.Config{ConsecutiveErrors: 5, EjectFor: time.Minute, MaxEjectedPercent: 50, MaxEjectFor: 300 * time.Second}
	for name, d := range map[string]engine.DestinationConfig{"defaults": rt.Default, "payments": rt.Destinations["payments"], "carts": rt.Destinations["carts"]} {
		if o := d.OutlierDetection; o == nil || *o != wantOutlier {
			t.Errorf("%s: outlier detection %+v, want %+v", name, o, wantOutlier)
		}
	}
	if b := p.Services["payments"].CircuitBreaker; b.MinRequests != 0 || b.OpenFor != 0 {
		t.Errorf("normalising changed the file's own circuitBreaker section: %+v", *b)
	}
	if o := p.Defaults.OutlierDetection; o.ConsecutiveErrors != 0 || o.MaxEjectFor != 0 {
		t.Errorf("normalising changed the file's own outlierDetection section: %+v", *o)
	}

	pay := p.Effective()["services"].(map[string]any)["payments"].(map[string]any)
	got := fmt.Sprint(pay["circuitBreaker"], " ", pay["outlierDetection"])
	const want = "map[consecutiveFailures:3 halfOpenRequests:1 minRequests:20 openFor:30s window:10s] map[consecutiveErrors:5 ejectFor:1m0s maxEjectFor:5m0s maxEjectedPercent:50]"
	if got != want {
		t.Errorf("the effective policy shows payments' breakers and outlier detection as\n%s\nwant\n%s", got, want)
	}
}
