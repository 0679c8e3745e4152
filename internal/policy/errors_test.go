package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// parseErrors parses src and returns its errors, failing if it parsed.
func parseErrors(t *testing.T, src string) ErrorList {
	t.Helper()
	p, err := Parse("mesh.yaml", []byte(src))
	if err == nil {
		t.Fatalf("Parse succeeded with %+v; want errors", p)
	}
	if p != nil {
		t.Errorf("Parse returned a policy along with errors")
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, want ErrorList: %v", err, err)
	}
	return list
}

func TestParseErrors(t *testing.T) {
	t.Setenv("WEFT_TEST_UNSET_KEY", "")
	tests := []struct {
		name string
		src  string
		want []string // "line:col: message fragment", in order
	}{
		{"syntax error in flow sequence", "version: 1\negress: {allow: [a.com\n",
			[]string{"3:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 17)"}},
		{"syntax error mapping in plain scalar", "version: 1\nmesh: name: shop\n",
			[]string{"2:11: YAML syntax error: mapping values are not allowed"}},
		{"tab indentation", "version: 1\nmesh:\n\tname: shop\n",
			[]string{"3:1: indent with spaces, not tabs"}},
		{"unknown top-level key with typo", "version: 1\nservces: {}\n",
			[]string{`2:1: unknown key "servces" at the top level; did you mean "services"?; known keys here: version, mesh, admin, egress, defaults, services`}},
		{"unknown key in another case", "version: 1\ndefaults:\n  loadbalancer: round_robin\n",
			[]string{`3:3: unknown key "loadbalancer" in defaults; did you mean "loadBalancer"?; known keys here: loadBalancer, hashKey, slowStart, zoneAware, timeout, retries, circuitBreaker, outlierDetection`}},
		{"unknown key far from any", "version: 1\nadmin:\n  port: 9901\n",
			[]string{`3:3: unknown key "port" in admin; known keys here: listen`}},
		{"typo of a planned key suggests it", "version: 1\nservices:\n  payments:\n    retires: {}\n",
			[]string{`4:5: unknown key "retires" in services.payments; did you mean "retries"?`}},
		{"telemetry validates itself, positioned", "version: 1\ntelemetry:\n  tracing: {sampleRatio: 1.5, otlp: {endpoint: \"collector\", protocol: udp}}\n  metrics: {otlp: {endpoint: \"http://:4318\", headers: {\"bad name\": x}}, interval: 10ms}\n",
			[]string{"3:26: telemetry.tracing.sampleRatio: must be between 0 and 1",
				"3:48: telemetry.tracing.otlp.endpoint: \"collector\" is not host:port or an http(s) URL",
				"3:71: telemetry.tracing.otlp.protocol: unknown protocol \"udp\"; use grpc or http",
				"4:30: telemetry.metrics.otlp.endpoint: the URL \"http://:4318\" has no host",
				"4:55: telemetry.metrics.otlp.headers: \"bad name\" is not a valid header name",
				"4:83: telemetry.metrics.interval: must be at least 1s"}},
		{"telemetry otlp without endpoint", "version: 1\ntelemetry: {tracing: {otlp: {insecure: true}}}\n",
			[]string{"2:12: telemetry: tracing.otlp.endpoint: missing; write the collector's host:port"}},
		{"telemetry types", "version: 1\ntelemetry: {accessLog: yes, tracing: {sampleRatio: \"all\"}}\n",
			[]string{`2:24: telemetry.accessLog: expected true or false, got the string "yes"`,
				`2:52: telemetry.tracing.sampleRatio: expected a number, got the string "all"`}},
		{"trust domain", "version: 1\nmesh: {name: shop, trustDomain: \"spiffe://shop\"}\n",
			[]string{`2:33: mesh.trustDomain: "spiffe://shop" is not a trust domain`}},
		{"resilience keys validate themselves, positioned", "version: 1\ndefaults:\n  retries: {attempts: 30, on: [bogus]}\n  circuitBreaker: {failureRatio: 2}\n  outlierDetection: {maxEjectedPercent: 150}\n",
			[]string{"3:23: defaults.retries.attempts: must be between 1 and 10", "3:32: defaults.retries.on[0]: unknown condition \"bogus\"", "4:34: defaults.circuitBreaker.failureRatio: must be at least 0", "5:41: defaults.outlierDetection.maxEjectedPercent: must be between 0 and 100"}},
		{"routes reference subsets", "version: 1\nservices:\n  a:\n    subsets: {v1: {version: v1}}\n    routes: [{to: {v3: 100}, hedge: {delay: -1s}}]\n",
			[]string{"5:19: services.a.routes[0].to: unknown subset \"v3\" (defined: v1)", "5:45: services.a.routes[0].hedge.delay: must not be negative"}},
		{"authorization rules validate themselves", "version: 1\nservices:\n  a:\n    inbound: {authorization: {rules: [{paths: [\"/a*b\"]}]}}\n",
			[]string{"4:30: services.a.inbound.authorization: rules need verified callers", "4:48: services.a.inbound.authorization.rules[0].paths[0]: "}},
		{"service-only planned key in defaults is unknown", "version: 1\ndefaults:\n  routes: []\n",
			[]string{`3:3: unknown key "routes" in defaults`}},
		{"duplicate key", "version: 1\nmesh:\n  name: a\n  name: b\n",
			[]string{`4:3: mesh: duplicate key "name"; it was first set at line 3, column 3; remove one of them`}},
		{"duplicate top-level key", "version: 1\nversion: 1\n",
			[]string{`2:1: policy: duplicate key "version"; it was first set at line 1, column 1`}},
		{"duplicate service", "version: 1\nservices:\n  a: {}\n  a: {timeout: 1s}\n",
			[]string{`4:3: services: duplicate key "a"; it was first set at line 3, column 3`}},
		{"timeout is a sequence", "version: 1\ndefaults:\n  timeout: [1s]\n",
			[]string{"3:12: defaults.timeout: expected a duration like 2s or 500ms, got a sequence"}},
		{"timeout without unit", "version: 1\ndefaults:\n  timeout: 5\n",
			[]string{"3:12: defaults.timeout: expected a duration like 2s or 500ms, got the number 5; add a unit, for example 5s"}},
		{"timeout unparsable", "version: 1\nservices:\n  a: {timeout: 2 seconds}\n",
			[]string{`3:16: services.a.timeout: "2 seconds" is not a duration`}},
		{"timeout negative", "version: 1\ndefaults: {timeout: -1s}\n",
			[]string{"2:21: defaults.timeout: must be positive"}},
		{"timeout zero", "version: 1\nservices: {a: {timeout: 0s}}\n",
			[]string{"2:25: services.a.timeout: must be positive"}},
		{"unknown load balancer", "version: 1\ndefaults: {loadBalancer: fastest}\n",
			[]string{`2:26: defaults.loadBalancer: unknown balancer "fastest"; use one of round_robin, least_request, peak_ewma, ring_hash, random`}},
		{"ring hash needs a key", "version: 1\nservices:\n  a: {loadBalancer: peak_ewma}\n  b: {loadBalancer: ring_hash}\n  c: {loadBalancer: random, hashKey: {header: x-user}}\n",
			[]string{`4:6: services.b: resilience: hashKey: ring_hash needs a key`, `5:38: services.c.hashKey: only ring_hash uses a hash key`}},
		{"load balancer not a string", "version: 1\ndefaults: {loadBalancer: {name: x}}\n",
			[]string{"2:26: defaults.loadBalancer: expected a string, got a mapping"}},
		{"version 2", "version: 2\n",
			[]string{"1:10: version: unsupported policy version 2; this version of Weft reads version 1"}},
		{"version missing", "mesh: {name: shop}\n",
			[]string{"1:1: version: missing; add `version: 1`"}},
		{"version as a string", "version: \"1\"\n",
			[]string{`1:10: version: expected a whole number, got the string "1"`}},
		{"version null", "version:\nmesh: {name: a}\n",
			[]string{"1:9: version: missing"}},
		{"mesh name not a DNS label", "version: 1\nmesh: {name: Shop_1}\n",
			[]string{`2:14: mesh.name: "Shop_1" is not a valid mesh name: use 1 to 63 lowercase letters, digits and '-'`}},
		{"mesh name too long", "version: 1\nmesh: {name: " + strings.Repeat("a", 64) + "}\n",
			[]string{"2:14: mesh.name: \"aaaa"}},
		{"mesh name a number", "version: 1\nmesh: {name: 123}\n",
			[]string{"2:14: mesh.name: expected a string, got the number 123; put it in quotes if it is meant as text"}},
		{"service name not a DNS label", "version: 1\nservices:\n  Payments: {}\n  -x: {}\n",
			[]string{`3:3: services.Payments: "Payments" is not a valid service name`, `4:3: services.-x: "-x" is not a valid service name`}},
		{"services not a mapping", "version: 1\nservices: [a, b]\n",
			[]string{"2:11: services: expected a mapping of names to values, got a sequence"}},
		{"egress hosts", "version: 1\negress:\n  allow:\n    - api.example.com:443\n    - https://x.com\n    - API.example.com\n    - \"*foo.com\"\n    - a..b\n    - \"*.ok.com\"\n",
			[]string{`4:7: egress.allow[0]: "api.example.com:443" is not a host name; write the bare name without scheme, port or path`,
				`5:7: egress.allow[1]: "https://x.com" is not a host name`,
				`6:7: egress.allow[2]: "API.example.com" is not a host name; write a lowercase name`,
				`7:7: egress.allow[3]: "*foo.com" is not a host name`,
				`8:7: egress.allow[4]: "a..b" is not a host name`}},
		{"egress allow not a list", "version: 1\negress: {allow: api.example.com}\n",
			[]string{`2:17: egress.allow: expected a list, got the string "api.example.com"`}},
		{"admin listen without port", "version: 1\nadmin: {listen: localhost}\n",
			[]string{`2:17: admin.listen: "localhost" is not host:port; write host:port, like 127.0.0.1:9901`}},
		{"admin listen bad port", "version: 1\nadmin: {listen: \"127.0.0.1:99999\"}\n",
			[]string{`2:17: admin.listen: "127.0.0.1:99999" has no valid port (0 to 65535)`}},
		{"admin listen bad host", "version: 1\nadmin: {listen: \"bad_host:80\"}\n",
			[]string{`2:17: admin.listen: "bad_host:80" has an invalid host`}},
		{"alias", "version: 1\ndefaults: &d {timeout: 1s}\nservices:\n  a: *d\n",
			[]string{"4:6: services.a: aliases (*d) are not supported in a policy; write the value out in full"}},
		{"alias as key", "version: 1\nmesh: {&k name: a}\nadmin: {*k : x}\n",
			[]string{"3:9: admin: aliases (*k) are not supported"}},
		{"merge key", "version: 1\ndefaults: {timeout: 1s}\nservices:\n  a:\n    <<: {timeout: 1s}\n",
			[]string{"5:5: services.a: merge keys (<<) are not supported"}},
		{"second document", "version: 1\n---\nversion: 1\n",
			[]string{"2:1: a policy file holds one YAML document; remove this second one"}},
		{"syntax error in second document", "version: 1\n---\nversion: [\n",
			[]string{"4:1: YAML syntax error"}},
		{"empty file", "", []string{"1:1: policy is empty; it needs at least `version: 1`"}},
		{"only a comment", "# nothing here\n", []string{"1:1: policy is empty"}},
		{"only a document marker", "---\n", []string{"1:1: policy is empty"}},
		{"null document", "~\n", []string{"1:1: policy is empty"}},
		{"top level is a list", "- version: 1\n",
			[]string{"1:1: policy: expected a mapping of keys to values, got a sequence"}},
		{"top level is a string", "hello\n",
			[]string{`1:1: policy: expected a mapping of keys to values, got the string "hello"`}},
		{"key is a sequence", "version: 1\nmesh:\n  ? [a]\n  : 1\n",
			[]string{"3:5: mesh: keys must be plain names, got a sequence"}},
		{"custom tag", "version: 1\nmesh: {name: !foo shop}\n",
			[]string{"2:14: mesh.name: expected a string, got a value tagged !foo"}},
		{"gossip key from unset variable", "version: 1\nmesh: {gossipKey: \"env:WEFT_TEST_UNSET_KEY\"}\n",
			[]string{"2:19: mesh.gossipKey: environment variable WEFT_TEST_UNSET_KEY is unset or empty; set it to a base64 gossip key (make one with `head -c 32 /dev/urandom | base64`)"}},
		{"gossip key env without name", "version: 1\nmesh: {gossipKey: \"env:\"}\n",
			[]string{"2:19: mesh.gossipKey: env: needs a variable name"}},
		{"gossip key not base64", "version: 1\nmesh: {gossipKey: \"not base64!\"}\n",
			[]string{"2:19: mesh.gossipKey: the key is not valid base64; make one with `head -c 32 /dev/urandom | base64`"}},
		{"gossip key wrong length", "version: 1\nmesh: {gossipKey: \"aGVsbG8=\"}\n",
			[]string{"2:19: mesh.gossipKey: the key decodes to 5 bytes, but a gossip key must be 16, 24 or 32 bytes"}},
		{"gossip key file missing", "version: 1\nmesh: {gossipKey: \"file:/nonexistent/weft.key\"}\n",
			[]string{"2:19: mesh.gossipKey: cannot read key file: stat /nonexistent/weft.key: no such file or directory"}},
		{"gossip key file is a directory", "version: 1\nmesh: {gossipKey: \"file:/\"}\n",
			[]string{"2:19: mesh.gossipKey: key file / is not a regular file"}},
		{"gossip key a number", "version: 1\nmesh: {gossipKey: 12}\n",
			[]string{"2:19: mesh.gossipKey: expected a base64 key, env:VAR or file:PATH, got the number 12"}},
		{"gossip key alias", "version: 1\nadmin: {listen: &k \"127.0.0.1:1\"}\nmesh: {gossipKey: *k}\n",
			[]string{"3:19: mesh.gossipKey: aliases (*k) are not supported"}},
		{"too deep", "version: 1\nmesh: " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n",
			[]string{"YAML syntax error: exceeded max depth of 32"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := parseErrors(t, tt.src)
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tt.want), errs)
			}
			for i, want := range tt.want {
				got := errs[i]
				if got.File != "mesh.yaml" {
					t.Errorf("error %d: File = %q, want mesh.yaml", i, got.File)
				}
				gotText := fmt.Sprintf("%d:%d: %s", got.Line, got.Column, got.Msg)
				pos, frag, _ := strings.Cut(want, ": ")
				if strings.Count(want, ":") >= 2 && isPosition(pos) {
					if !strings.HasPrefix(gotText, pos+": ") {
						t.Errorf("error %d at %d:%d, want %s: %s", i, got.Line, got.Column, pos, got.Msg)
					}
				} else {
					frag = want
				}
				if !strings.Contains(got.Msg, frag) {
					t.Errorf("error %d:\n got  %s\n want fragment %q", i, gotText, frag)
				}
			}
		})
	}
}

// isPosition reports whether s looks like "line:col".
func isPosition(s string) bool {
	l, c, ok := strings.Cut(s, ":")
	return ok && l != "" && c != "" && strings.Trim(l, "0123456789") == "" && strings.Trim(c, "0123456789") == ""
}

func TestParseReportsEveryError(t *testing.T) {
	src := `version: 3
mesh:
  name: Bad_Name
  gossipKey: "aGVsbG8="
  color: blue
admin: {listen: nowhere}
egress: {allow: ["http://x"]}
defaults: {loadBalancer: fastest, timeout: soon}
services:
  UPPER: {timeout: -2s}
  fine: {timeout: 2s, inbound: {authorization: {}}}
  fine: {}
security: {mtls: strict}
`
	errs := parseErrors(t, src)
	want := []string{
		"1:10: version: unsupported",
		"3:9: mesh.name:",
		"4:14: mesh.gossipKey:",
		"5:3: unknown key \"color\" in mesh",
		"6:17: admin.listen:",
		"7:18: egress.allow[0]:",
		"8:26: defaults.loadBalancer:",
		"8:44: defaults.timeout:",
		"10:3: services.UPPER: \"UPPER\" is not a valid service name",
		"10:20: services.UPPER.timeout: must be positive",
		"12:3: services: duplicate key \"fine\"",
		"13:18: security.mtls: strict needs an identity",
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if got := errs[i].Error(); !strings.HasPrefix(got, "mesh.yaml:"+w) {
			t.Errorf("error %d = %q, want prefix %q", i, got, "mesh.yaml:"+w)
		}
	}
	if strings.Count(errs.Error(), "\n") != len(want)-1 {
		t.Errorf("ErrorList.Error() should hold one line per error:\n%s", errs.Error())
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Column: 7, Msg: "bad"}, "a.yaml:3:7: bad"},
		{Error{File: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3:1: bad"},
		{Error{File: "a.yaml", Msg: "bad"}, "a.yaml: bad"},
		{Error{Line: 2, Column: 4, Msg: "bad"}, "2:4: bad"},
		{Error{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	list := ErrorList{{File: "a", Line: 1, Column: 1, Msg: "x"}, {File: "a", Line: 2, Column: 1, Msg: "y"}}
	if got := list.Error(); got != "a:1:1: x\na:2:1: y" {
		t.Errorf("ErrorList.Error() = %q", got)
	}
	var target *Error
	if !errors.As(error(list), &target) || target.Msg != "x" {
		t.Errorf("errors.As(ErrorList, *Error) = %v", target)
	}
}

func TestParseTooLarge(t *testing.T) {
	data := []byte("version: 1\n# " + strings.Repeat("x", MaxFileSize) + "\n")
	errs := parseErrors(t, string(data))
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "the limit is") {
		t.Fatalf("errors = %v", errs)
	}
}

func TestParseCapsErrorCount(t *testing.T) {
	src := "version: 1\nservices:\n" + strings.Repeat("  a: {}\n", 300)
	errs := parseErrors(t, src)
	if len(errs) != maxErrors {
		t.Fatalf("got %d errors, want %d", len(errs), maxErrors)
	}
	// 299 duplicates: 99 shown, then one line for the other 200.
	if last := errs[len(errs)-1]; last.Msg != "too many errors; 200 more not shown" {
		t.Errorf("last error = %v", last)
	}
}
