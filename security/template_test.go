package security_test

import (
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/security"
)

func TestTemplate(t *testing.T) {
	for _, tc := range []struct {
		text, service, want string
	}{
		{"", "payments", "spiffe://example.org/svc/payments"},
		{"spiffe://{trustDomain}/ns/prod/sa/{service}", "orders", "spiffe://example.org/ns/prod/sa/orders"},
		{"spiffe://example.org/{service}/v1", "orders", "spiffe://example.org/orders/v1"},
	} {
		tmpl, err := security.ParseTemplate(tc.text, td)
		if err != nil {
			t.Fatalf("%q: %v", tc.text, err)
		}
		id, err := tmpl.ID(tc.service)
		if err != nil || id.String() != tc.want {
			t.Errorf("%q: ID(%s) = %v, %v; want %s", tc.text, tc.service, id, err, tc.want)
		}
		if name, ok := tmpl.Service(id); !ok || name != tc.service {
			t.Errorf("%q: Service(%s) = %q, %v", tc.text, id, name, ok)
		}
	}
	tmpl, _ := security.ParseTemplate("", td)
	for _, id := range []string{"spiffe://example.org/svc/a/b", "spiffe://example.org/other/a", "spiffe://example.org/svcx"} {
		if name, ok := tmpl.Service(spiffeid.RequireFromString(id)); ok {
			t.Errorf("Service(%s) = %q, want none", id, name)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"spiffe://{trustDomain}/svc", "must contain {service} exactly once"},
		{"spiffe://{trustDomain}/{service}/{service}", "must contain {service} exactly once"},
		{"spiffe://{trustDomain}/{namespace}/{service}", "only {trustDomain} and {service}"},
		{"spiffe://other.org/{service}", "names trust domain other.org"},
		{"http://{trustDomain}/{service}", "does not make SPIFFE IDs"},
		{"spiffe://{service}.org/x", "names trust domain x.org"},
	} {
		_, err := security.ParseTemplate(tc.text, td)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to contain %q", tc.text, err, tc.want)
		}
	}
	if _, err := security.ParseTemplate("", spiffeid.TrustDomain{}); err == nil || !strings.Contains(err.Error(), "mesh.trustDomain") {
		t.Errorf("no trust domain: %v", err)
	}
}

func FuzzTemplate(f *testing.F) {
	f.Add("", "payments")
	f.Add("spiffe://{trustDomain}/ns/{service}/x", "a-b")
	f.Add("spiffe://{trustDomain}/{service}", "a/b")
	f.Fuzz(func(t *testing.T, text, service string) {
		tmpl, err := security.ParseTemplate(text, td)
		if err != nil {
			return
		}
		id, err := tmpl.ID(service)
		if err != nil {
			return
		}
		if id.TrustDomain() != td {
			t.Fatalf("template %q made %s outside %s", text, id, td)
		}
		if name, ok := tmpl.Service(id); ok && name != service && !strings.Contains(service, "/") {
			t.Fatalf("template %q: Service(ID(%q)) = %q", text, service, name)
		}
	})
}
