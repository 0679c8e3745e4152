package authz_test

import (
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/security/authz"
)

// benchConfig has ten rules, the matching one last, so that a decision
// walks all of them.
var benchConfig = authz.Config{Rules: []authz.Rule{
	{From: []string{"a1", "a2", "spiffe://example.org/ns/a/*"}, Methods: []string{"GET"}, Paths: []string{"/a", "/a/*"}},
	{From: []string{"b1"}, Methods: []string{"GET", "POST"}, Paths: []string{"/b", "/b/*"}},
	{From: []string{"c1", "c2"}, Paths: []string{"/shop.C/*"}},
	{From: []string{"d1"}, Methods: []string{"PUT"}, Paths: []string{"/d/*"}},
	{From: []string{"spiffe://example.org/ns/e/*"}, Paths: []string{"/e"}},
	{From: []string{"f1", "f2", "f3"}, Methods: []string{"DELETE"}},
	{From: []string{"g1"}, Paths: []string{"/g/*", "/gg/*"}},
	{From: []string{"h1"}, Methods: []string{"GET"}, Paths: []string{"/h"}},
	{Methods: []string{"GET"}, Paths: []string{"/healthz"}},
	{From: []string{"orders", "checkout"}, Methods: []string{"GET", "POST"}, Paths: []string{"/charge", "/refunds/*"}},
}}

type benchCase struct {
	name   string
	peer   spiffeid.ID
	method string
	path   string
	allow  bool
}

var benchCases = []benchCase{
	{"allow", orders, "POST", "/refunds/42", true},
	{"allow empty from", other, "GET", "/healthz", true},
	{"deny stranger", id("spiffe://example.org/svc/stranger"), "GET", "/charge", false},
	{"deny method", orders, "DELETE", "/charge", false},
	{"deny path", orders, "GET", "/admin", false},
	{"deny no identity", spiffeid.ID{}, "GET", "/charge", false},
	{"deny foreign", billing, "GET", "/charge", false},
}

func BenchmarkDecide(b *testing.B) {
	p := mustCompile(b, benchConfig)
	for _, tc := range benchCases {
		if d := p.Decide(tc.peer, tc.method, tc.path, nil); d.Allow != tc.allow {
			b.Fatalf("%s: Decide = %+v", tc.name, d)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p.Decide(tc.peer, tc.method, tc.path, nil)
				}
			})
		})
	}
}
