package policy

import (
	"encoding/json"
	"strings"
	"testing"
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
