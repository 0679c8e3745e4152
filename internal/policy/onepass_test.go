package policy

import (
	"strings"
	"testing"
)

// A file with a syntax error, an unknown subset, an unknown key and an
// unknown service reports all four in one run.
func TestEveryErrorInOnePass(t *testing.T) {
	src := `version: 1
mesh: {name: shop, trustDomain: shop.test}
security: {identity: {dev: {ca: /tmp/ca}}}
services:
  payments:
    subsets:
      v1: {version: v1}
    routes:
      - {name: canary, to: {v3: 100}}
  frontend:
    timeout: [3s
  checkout:
    inbound:
      authorization:
        rules:
          - from: [frontnd]
    timout: 3s
`
	_, err := Parse("mesh.yaml", []byte(src))
	if err == nil {
		t.Fatal("Parse accepted a broken file")
	}
	want := []string{
		`mesh.yaml:9:28: services.payments.routes[0].to: unknown subset "v3"`,
		`mesh.yaml:12:11: YAML syntax error`,
		`mesh.yaml:16:20: services.checkout.inbound.authorization.rules[0].from[0]: unknown service "frontnd"`,
		`mesh.yaml:17:5: unknown key "timout" in services.checkout`,
	}
	got := strings.Split(err.Error(), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(got), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d:\n got %s\nwant %s…", i, got[i], want[i])
		}
	}
}

// After a syntax error, lines that belonged to the broken construct are
// not read as keys of another section.
func TestSyntaxRecoveryReportsNothingFalse(t *testing.T) {
	for name, src := range map[string]string{
		"tab":           "version: 1\nservices:\n\ta:\n    timeout: 2s\n  b: {timeout: 1s}\n",
		"open quote":    "version: 1\nservices:\n  a:\n    timeout: \"2s\n  b: {timeout: 1s}\n",
		"version lost":  "version: [1\nservices: {}\n",
		"open brackets": "version: 1\nmesh: {name: [a\nservices: {a: {timeout: 1s}}\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("mesh.yaml", []byte(src))
			if err == nil {
				t.Fatal("Parse accepted a broken file")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.Contains(line, "YAML syntax error") {
					t.Errorf("an error that only the recovery made: %s", line)
				}
			}
		})
	}
}

// 429 is a documented retry condition: written unquoted, it is the number
// 429 in YAML, and means the condition.
func TestUnquotedStatusCondition(t *testing.T) {
	p, err := Parse("mesh.yaml", []byte("version: 1\ndefaults:\n  retries: {on: [5xx, 429]}\nservices:\n  a:\n    retries: {on: [429]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Services["a"].Retries.On; len(got) != 1 || got[0] != "429" {
		t.Errorf("services.a.retries.on = %q", got)
	}
	_, err = Parse("mesh.yaml", []byte("version: 1\ndefaults:\n  retries: {on: [503]}\n"))
	if err == nil || strings.Count(err.Error(), "\n") != 0 || !strings.Contains(err.Error(), `unknown condition "503"`) {
		t.Errorf("an unknown numeric condition: got %v, want one error naming it", err)
	}
}

func TestAdminAccessChecks(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"allow needs an identity": {"version: 1\nadmin: {allow: [ops]}\n", "admin.allow: callers prove who they are with mutual TLS"},
		"allow entry":             {"version: 1\nmesh: {trustDomain: t.test}\nsecurity: {identity: {dev: {ca: /x}}}\nadmin: {allow: [Not_A_Name]}\n", "neither a service name nor a spiffe:// ID"},
		"bad spiffe ID":           {"version: 1\nmesh: {trustDomain: t.test}\nsecurity: {identity: {dev: {ca: /x}}}\nadmin: {allow: [\"spiffe://T/x\"]}\n", "is not a SPIFFE ID"},
		"credential header":       {"version: 1\nadmin: {tapHeaders: [authorization]}\n", "Authorization carries credentials"},
		"token header":            {"version: 1\nadmin: {tapHeaders: [x-session-token]}\n", "X-Session-Token carries credentials"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("mesh.yaml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	p, err := Parse("mesh.yaml", []byte("version: 1\nmesh: {trustDomain: t.test}\nsecurity: {identity: {dev: {ca: /x}}}\nadmin: {listen: \"127.0.0.1:9901\", allow: [ops, \"spiffe://t.test/tools/grpcurl\"], tapHeaders: [x-request-id]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Admin.Allow) != 2 || p.Admin.TapHeaders[0] != "x-request-id" {
		t.Errorf("admin = %+v", p.Admin)
	}
}

// Reflection is registered before a gRPC server serves: turning it on or
// off needs a restart.
func TestReflectionChangeNeedsRestart(t *testing.T) {
	on, err := Parse("mesh.yaml", []byte("version: 1\nservices:\n  payments: {grpcReflection: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	off, err := Parse("mesh.yaml", []byte("version: 1\nservices:\n  payments: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]*Policy{{on, off}, {off, on}} {
		if err := CheckReload(pair[0], pair[1]); err == nil || !strings.Contains(err.Error(), "services.payments.grpcReflection") {
			t.Errorf("CheckReload = %v, want a restart error for grpcReflection", err)
		}
	}
	if err := CheckReload(on, on); err != nil {
		t.Error(err)
	}
	if _, err := Parse("mesh.yaml", []byte("version: 1\ndefaults: {grpcReflection: true}\n")); err == nil || !strings.Contains(err.Error(), "grpcReflection is a service's own") {
		t.Errorf("grpcReflection under defaults, where it cannot apply: %v", err)
	}
}
