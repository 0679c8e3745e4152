package jwtauth_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/security/jwtauth"
)

func TestTokenLocations(t *testing.T) {
	clk := newClock()
	s := newRSASigner(t, 0, "k1")
	tok := s.Sign(t, claimsAt(clk.Now()))
	path := writeKeySet(t, s)
	for _, tc := range []struct {
		name string
		from []jwtauth.Location
		h    http.Header
		want string // "ok", "missing" or a reason
	}{
		{"bearer by default", nil, http.Header{"Authorization": {"Bearer " + tok}}, "ok"},
		{"scheme in any case", nil, http.Header{"Authorization": {"bEaReR   " + tok}}, "ok"},
		{"no header", nil, http.Header{}, "missing"},
		{"basic scheme is no token", nil, http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, "missing"},
		{"scheme alone", nil, http.Header{"Authorization": {"Bearer "}}, "holds no token"},
		{"two headers", nil, http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, "more than one Authorization header"},
		{"token in a cookie when the header is expected", nil, http.Header{"Cookie": {"session=" + tok}}, "missing"},
		{"custom header", []jwtauth.Location{{Header: "x-jwt"}}, http.Header{"X-Jwt": {tok}}, "ok"},
		{"custom header with prefix", []jwtauth.Location{{Header: "X-Auth", Prefix: "Token "}}, http.Header{"X-Auth": {"token " + tok}}, "ok"},
		{"cookie", []jwtauth.Location{{Cookie: "session"}}, http.Header{"Cookie": {"a=1; session=" + tok + "; b=2"}}, "ok"},
		{"quoted cookie", []jwtauth.Location{{Cookie: "session"}}, http.Header{"Cookie": {`session="` + tok + `"`}}, "ok"},
		{"cookie in a second Cookie header", []jwtauth.Location{{Cookie: "session"}}, http.Header{"Cookie": {"a=1", "session=" + tok}}, "ok"},
		{"cookie set twice", []jwtauth.Location{{Cookie: "session"}}, http.Header{"Cookie": {"session=" + tok + "; session=x"}}, "set more than once"},
		{"other cookies only", []jwtauth.Location{{Cookie: "session"}}, http.Header{"Cookie": {"sessionid=1; x=session"}}, "missing"},
		{"token in the header when a cookie is expected", []jwtauth.Location{{Cookie: "session"}}, http.Header{"Authorization": {"Bearer " + tok}}, "missing"},
		{"second place", []jwtauth.Location{{Cookie: "session"}, {Header: "Authorization"}}, http.Header{"Authorization": {"Bearer " + tok}}, "ok"},
		{"first place wins", []jwtauth.Location{{Header: "Authorization"}, {Cookie: "session"}}, http.Header{"Authorization": {"Bearer " + tok}, "Cookie": {"session=garbage"}}, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fileConfig(path)
			cfg.From = tc.from
			a := mustNew(t, cfg, jwtauth.Options{Now: clk.Now})
			res := a.AuthenticateHTTP(context.Background(), tc.h)
			switch tc.want {
			case "ok":
				if res.Err != nil || res.Claims.Subject() != "alice" {
					t.Errorf("err %v", res.Err)
				}
			case "missing":
				if !errors.Is(res.Err, jwtauth.ErrNoToken) || res.Status() != http.StatusUnauthorized {
					t.Errorf("err %v, want ErrNoToken", res.Err)
				}
				if got := a.Challenge(res.Err); got != `Bearer realm="payments"` {
					t.Errorf("challenge %q", got)
				}
			default:
				var te *jwtauth.TokenError
				if !errors.As(res.Err, &te) || !strings.Contains(te.Reason, tc.want) {
					t.Errorf("err %v, want a reason with %q", res.Err, tc.want)
				}
			}
		})
	}
}

func TestOptional(t *testing.T) {
	clk := newClock()
	s := newRSASigner(t, 0, "k1")
	cfg := fileConfig(writeKeySet(t, s))
	cfg.Optional = true
	a := mustNew(t, cfg, jwtauth.Options{Now: clk.Now})
	if res := a.AuthenticateHTTP(context.Background(), http.Header{}); res.Err != nil || res.Claims != nil {
		t.Errorf("no token, optional: %+v", res)
	}
	expired := s.Sign(t, with(claimsAt(clk.Now()), "exp", clk.Now().Add(-time.Hour).Unix()))
	if res := a.AuthenticateHTTP(context.Background(), bearer(expired)); res.Err == nil {
		t.Error("an invalid token was let through because tokens are optional")
	}
}

func TestMetadata(t *testing.T) {
	clk := newClock()
	s := newRSASigner(t, 0, "k1")
	tok := s.Sign(t, claimsAt(clk.Now()))
	cfg := fileConfig(writeKeySet(t, s))
	cfg.From = []jwtauth.Location{{Header: "Authorization"}, {Cookie: "session"}}
	a := mustNew(t, cfg, jwtauth.Options{Now: clk.Now})
	if res := a.AuthenticateMetadata(context.Background(), map[string][]string{"authorization": {"Bearer " + tok}}); res.Err != nil {
		t.Errorf("authorization metadata: %v", res.Err)
	}
	if res := a.AuthenticateMetadata(context.Background(), map[string][]string{"cookie": {"session=" + tok}}); res.Err != nil {
		t.Errorf("cookie metadata: %v", res.Err)
	}
	if res := a.AuthenticateMetadata(context.Background(), map[string][]string{"Authorization": {"Bearer " + tok}}); !errors.Is(res.Err, jwtauth.ErrNoToken) {
		t.Errorf("metadata keys are lower case; err %v", res.Err)
	}
}

func TestStrip(t *testing.T) {
	s := newRSASigner(t, 0, "k1")
	cfg := fileConfig(writeKeySet(t, s))
	cfg.From = []jwtauth.Location{{Header: "Authorization"}, {Header: "X-Jwt"}, {Cookie: "session"}}
	a := mustNew(t, cfg, jwtauth.Options{})
	h := http.Header{"Authorization": {"Bearer x"}, "X-Jwt": {"y"}, "Cookie": {"a=1; session=z; b=2", "session=w"}, "Other": {"kept"}}
	a.StripHTTP(h)
	if _, ok := h["Authorization"]; ok || h.Get("X-Jwt") != "" || !slices.Equal(h["Cookie"], []string{"a=1; b=2"}) || h.Get("Other") != "kept" {
		t.Errorf("after StripHTTP: %v", h)
	}
	md := map[string][]string{"authorization": {"Bearer x"}, "cookie": {"session=z"}, "x-other": {"kept"}}
	a.StripMetadata(md)
	if len(md) != 1 || md["x-other"][0] != "kept" {
		t.Errorf("after StripMetadata: %v", md)
	}

	cfg.Forward = true
	fwd := mustNew(t, cfg, jwtauth.Options{})
	h = http.Header{"Authorization": {"Bearer x"}, "Cookie": {"session=z"}}
	fwd.StripHTTP(h)
	if h.Get("Authorization") == "" || h.Get("Cookie") == "" || !fwd.Forwards() {
		t.Errorf("forward: true removed the token: %v", h)
	}
}
