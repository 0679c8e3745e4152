package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/weftmesh/weft/internal/engine"
)

// A service's HTTP protocol comes from its own section, else defaults,
// else HTTP/1.1.
func TestProtocolKey(t *testing.T) {
	p, err := Parse("mesh.yaml", []byte("version: 1\ndefaults: {protocol: h2}\nservices:\n  a: {}\n  b: {protocol: http/1.1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Routing()
	for svc, want := range map[string]string{"a": engine.HTTP2, "b": engine.HTTP1, "": engine.HTTP2} {
		d, ok := r.Destinations[svc]
		if !ok {
			d = r.Default
		}
		if got := d.Protocol; got != want {
			t.Errorf("%s: protocol %q, want %q", svc, got, want)
		}
	}
	p, err = Parse("mesh.yaml", []byte("version: 1\nservices:\n  a: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Routing().Destinations["a"].Protocol; got != engine.HTTP1 {
		t.Errorf("protocol without the key: %q, want %q", got, engine.HTTP1)
	}
}

func TestProtocolKeyErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"version: 1\nservices:\n  a: {protocol: h3}\n", `3:17: services.a.protocol: unknown protocol "h3"; use http/1.1 or h2`},
		{"version: 1\ndefaults: {protocol: h2c}\n", "2:22: defaults.protocol: write h2: HTTP/2 is h2c (prior knowledge) on plaintext connections"},
		{"version: 1\nservices:\n  a: {protocol: [h2]}\n", "3:17: services.a.protocol: expected a string"},
	} {
		errs := parseErrors(t, tc.src)
		if len(errs) != 1 {
			t.Fatalf("%q: got %d errors, want 1: %v", tc.src, len(errs), errs)
		}
		if got := fmt.Sprintf("%d:%d: %s", errs[0].Line, errs[0].Column, errs[0].Msg); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q:\n got  %s\n want %s…", tc.src, got, tc.want)
		}
	}
}
