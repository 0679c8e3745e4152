package jwtauth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/jwttest"
	"github.com/weftmesh/weft/security/jwtauth"
)

// FuzzVerify feeds arbitrary tokens to the verifier, seeded with valid,
// expired, unsigned and confused ones: it never panics, refuses with a
// TokenError, and accepts only what the issuer's key signed.
func FuzzVerify(f *testing.F) {
	clk := newClock()
	s := newRSASigner(f, 0, "k1")
	now := clk.Now()
	for _, tok := range []string{
		s.Sign(f, claimsAt(now)),
		s.Sign(f, with(claimsAt(now), "exp", now.Add(-time.Hour).Unix())),
		jwttest.Unsigned(f, claimsAt(now)),
		jwttest.HMACWithPublicKey(f, s, claimsAt(now)),
		"a.b.c", "..", "eyJhbGciOiJSUzI1NiJ9.e30.", "",
	} {
		f.Add(tok)
	}
	path := writeKeySet(f, s)
	a, err := jwtauth.New(fileConfig(path), jwtauth.Options{Now: clk.Now})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(a.Close)
	signed, err := a.Verify(context.Background(), s.Sign(f, claimsAt(now)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		v, err := a.Verify(context.Background(), token)
		if err != nil {
			var te *jwtauth.TokenError
			if !errors.As(err, &te) || te.Reason == "" {
				t.Fatalf("err %v is not a TokenError with a reason", err)
			}
			return
		}
		// A forgery would need the key: what passes carries the claims
		// the key signed.
		if c := v.Claims(); c.Digest() != signed.Claims().Digest() {
			t.Fatalf("accepted %q with claims %s", token, c.JSON())
		}
	})
}

// FuzzTokenPlaces feeds arbitrary headers and cookies to the token
// lookup: it never panics, and a refusal is ErrNoToken or a TokenError.
func FuzzTokenPlaces(f *testing.F) {
	f.Add("Bearer abc", "session=abc; x=1", "x")
	f.Add("bearer", `session="";session=2`, "")
	f.Add("Basic Zm9v", ";;=;session", "Bearer ")
	f.Add("", "session", "token")
	s := newRSASigner(f, 0, "k1")
	cfg := fileConfig(writeKeySet(f, s))
	cfg.From = []jwtauth.Location{{Header: "Authorization"}, {Cookie: "session"}, {Header: "X-Jwt", Prefix: "Token "}}
	a, err := jwtauth.New(cfg, jwtauth.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(a.Close)
	f.Fuzz(func(t *testing.T, authorization, cookie, custom string) {
		h := http.Header{"Authorization": {authorization}, "Cookie": {cookie}, "X-Jwt": {custom}}
		res := a.AuthenticateHTTP(context.Background(), h)
		var te *jwtauth.TokenError
		if res.Err != nil && !errors.Is(res.Err, jwtauth.ErrNoToken) && !errors.As(res.Err, &te) {
			t.Fatalf("unexpected error %v", res.Err)
		}
		if res.Err == nil {
			t.Fatalf("accepted headers %q %q %q", authorization, cookie, custom)
		}
		a.StripHTTP(h)
		if h.Get("Authorization") != "" || h.Get("X-Jwt") != "" {
			t.Fatalf("token headers left after StripHTTP: %v", h)
		}
		for _, c := range h.Values("Cookie") {
			for _, part := range strings.Split(c, ";") {
				if k, _, _ := strings.Cut(strings.TrimSpace(part), "="); strings.TrimSpace(k) == "session" {
					t.Fatalf("session cookie left after StripHTTP: %q", c)
				}
			}
		}
	})
}
