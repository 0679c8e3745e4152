package rpc_test

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/weftmesh/weft/transport/route"
	"github.com/weftmesh/weft/transport/rpc"
)

func TestCodesAndStatusesRoundTrip(t *testing.T) {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		s := rpc.HTTPStatus(c)
		switch c {
		case codes.Unknown, codes.DataLoss, codes.FailedPrecondition, codes.OutOfRange, codes.AlreadyExists:
			continue // several codes share a status; the status maps back to one of them
		}
		if got := rpc.Code(s); got != c {
			t.Errorf("%v → %d → %v", c, s, got)
		}
	}
	// The retry conditions read gRPC outcomes through these statuses.
	for c, want := range map[codes.Code]int{codes.Unavailable: 503, codes.DeadlineExceeded: 504, codes.ResourceExhausted: 429, codes.Internal: 500, codes.PermissionDenied: 403} {
		if got := rpc.HTTPStatus(c); got != want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", c, got, want)
		}
	}
	if rpc.Code(502) != codes.Unavailable || rpc.Code(599) != codes.Internal || rpc.Code(418) != codes.Unknown {
		t.Error("statuses without a code of their own")
	}
}

func TestRequestMatchesAsHTTP(t *testing.T) {
	md := metadata.Pairs("x-canary", "1", "x-user", "a", "x-user", "b")
	r := rpc.Request("/shop.Payments/Charge", md)
	if r.Method != http.MethodPost || r.URL.Path != "/shop.Payments/Charge" || r.Header.Get("X-Canary") != "1" || r.Header.Get("X-User") != "a" {
		t.Fatalf("request %s %s %v", r.Method, r.URL.Path, r.Header)
	}
	tbl, err := route.Compile(nil, []route.Route{
		{Name: "canary", Match: route.Match{Headers: map[string]string{"x-canary": "1"}, Methods: []string{"POST"}, PathPrefix: "/shop.Payments/"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Match(r).Name() != "canary" {
		t.Error("the canary route does not match")
	}
}

// FuzzRequest checks that every metadata key a gRPC call carries is read
// by route matching exactly as the header of the same name.
func FuzzRequest(f *testing.F) {
	f.Add("/shop.Payments/Charge", "x-canary", "1")
	f.Add("/a/b", ":authority", "x")
	f.Add("", "x-user-id", "")
	f.Fuzz(func(t *testing.T, method, key, value string) {
		md := metadata.MD{}
		md.Append(key, value)
		r := rpc.Request(method, md)
		if r.Method != http.MethodPost || r.URL.Path != method {
			t.Fatalf("request %s %q for %q", r.Method, r.URL.Path, method)
		}
		lk := strings.ToLower(key)
		if strings.HasPrefix(lk, ":") {
			if len(r.Header) != 0 {
				t.Fatalf("pseudo-header %q became %v", key, r.Header)
			}
			return
		}
		if got := r.Header.Values(lk); len(got) != 1 || got[0] != value {
			t.Fatalf("metadata %q=%q read as %q", lk, value, got)
		}
	})
}
