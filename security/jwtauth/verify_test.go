package jwtauth_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/weftmesh/weft/internal/jwttest"
	"github.com/weftmesh/weft/security/jwtauth"
)

func bearer(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

func TestValidTokenGivesClaims(t *testing.T) {
	clk := newClock()
	s := newRSASigner(t, 0, "k1")
	a := mustNew(t, fileConfig(writeKeySet(t, s)), jwtauth.Options{Now: clk.Now})
	res := a.AuthenticateHTTP(context.Background(), bearer(s.Sign(t, claimsAt(clk.Now()))))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	c := res.Claims
	if c.Subject() != "alice" || c.Issuer() != testIssuer || !c.Has("groups", "admins") || !c.Has("scope", "orders.write") {
		t.Errorf("claims: sub %q iss %q", c.Subject(), c.Issuer())
	}
	if a.Cached() != 1 {
		t.Errorf("Cached() = %d after one token", a.Cached())
	}
}

// TestRefusedTokens checks every kind of bad token the issue names, and
// that each is refused with a reason saying why.
func TestRefusedTokens(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	good := newRSASigner(t, 0, "k1")
	other := newRSASigner(t, 1, "k1") // same kid, another key: a forgery
	ec := newECSigner(t, "e1")
	cfg := fileConfig(writeKeySet(t, good, ec))
	cfg.Issuers[0].Algorithms = []string{"RS256"}
	a := mustNew(t, cfg, jwtauth.Options{Now: clk.Now})
	valid := claimsAt(now)
	for _, tc := range []struct {
		name, token, reason string
	}{
		{"expired", good.Sign(t, with(valid, "exp", now.Add(-time.Minute).Unix())), "expired at"},
		{"not yet valid", good.Sign(t, with(valid, "nbf", now.Add(time.Minute).Unix())), "not valid before"},
		{"issued in the future", good.Sign(t, with(valid, "iat", now.Add(time.Hour).Unix())), "issued in the future"},
		{"no expiry", good.Sign(t, with(valid, "exp", nil)), "no exp claim"},
		{"wrong audience", good.Sign(t, with(valid, "aud", "orders")), `audience "orders" not accepted`},
		{"no audience", good.Sign(t, with(valid, "aud", nil)), "audience"},
		{"wrong issuer", good.Sign(t, with(valid, "iss", "https://evil.example/")), `issuer "https://evil.example/" not accepted`},
		{"no issuer", good.Sign(t, with(valid, "iss", nil)), `issuer "" not accepted`},
		{"alg none", jwttest.Unsigned(t, valid), `algorithm "none" not accepted`},
		{"algorithm confusion", jwttest.HMACWithPublicKey(t, good, valid), `algorithm "HS256" not accepted`},
		{"algorithm not allowed for the issuer", ec.Sign(t, valid), `algorithm "ES256" not accepted`},
		{"forged signature", other.Sign(t, valid), "signature does not verify"},
		{"unknown key", newRSASigner(t, 2, "k9").Sign(t, valid), `no key named "k9"`},
		{"malformed", "not.a.token", "malformed"},
		{"two segments", "abc.def", "malformed"},
		{"too long", strings.Repeat("a", 17<<10), "longer than"},
		{"duplicate claim", dupClaimToken(t, good, now), "appears twice"},
		{"wrong claim type", good.Sign(t, with(valid, "sub", 7)), "sub is not a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := a.AuthenticateHTTP(context.Background(), bearer(tc.token))
			var te *jwtauth.TokenError
			if !errors.As(res.Err, &te) {
				t.Fatalf("err = %v, want a TokenError", res.Err)
			}
			if !strings.Contains(te.Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", te.Reason, tc.reason)
			}
			if res.Claims != nil || res.Status() != http.StatusUnauthorized {
				t.Errorf("claims %v, status %d", res.Claims, res.Status())
			}
			if got := a.Challenge(res.Err); got != `Bearer realm="payments", error="invalid_token"` {
				t.Errorf("challenge %q", got)
			}
		})
	}
	if a.Cached() != 0 {
		t.Errorf("refused tokens were cached: %d", a.Cached())
	}
}

// dupClaimToken signs a payload that names sub twice.
func dupClaimToken(t *testing.T, s signer, now time.Time) string {
	t.Helper()
	payload := `{"iss":"` + testIssuer + `","aud":"` + testAudience + `","exp":` + strconv.FormatInt(now.Add(time.Hour).Unix(), 10) + `,"sub":"alice","sub":"admin"}`
	return s.SignRaw(t, []byte(payload))
}

func TestClockSkew(t *testing.T) {
	clk := newClock()
	s := newRSASigner(t, 0, "k1")
	cfg := fileConfig(writeKeySet(t, s))
	cfg.ClockSkew = 30 * time.Second
	a := mustNew(t, cfg, jwtauth.Options{Now: clk.Now})
	now := clk.Now()
	recent := s.Sign(t, with(claimsAt(now), "exp", now.Add(-20*time.Second).Unix()))
	if res := a.AuthenticateHTTP(context.Background(), bearer(recent)); res.Err != nil {
		t.Errorf("a token expired 20 s ago within a 30 s skew: %v", res.Err)
	}
	early := s.Sign(t, with(claimsAt(now), "nbf", now.Add(20*time.Second).Unix()))
	if res := a.AuthenticateHTTP(context.Background(), bearer(early)); res.Err != nil {
		t.Errorf("a token valid in 20 s within a 30 s skew: %v", res.Err)
	}
	// The cached verdict follows the clock too.
	clk.Advance(11 * time.Second)
	if res := a.AuthenticateHTTP(context.Background(), bearer(recent)); res.Err == nil {
		t.Error("a cached token was accepted 31 s after its expiry")
	}
}

// TestCachedTokenExpires checks that a token verified once is refused
// once it expires, and that the cache did its job until then.
func TestCachedTokenExpires(t *testing.T) {
	clk := newClock()
	s := newRSASigner(t, 0, "k1")
	cfg := fileConfig(writeKeySet(t, s))
	cfg.ClockSkew = time.Second
	a := mustNew(t, cfg, jwtauth.Options{Now: clk.Now})
	tok := s.Sign(t, with(claimsAt(clk.Now()), "exp", clk.Now().Add(time.Minute).Unix()))
	for range 3 {
		if res := a.AuthenticateHTTP(context.Background(), bearer(tok)); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	clk.Advance(time.Minute + time.Second)
	res := a.AuthenticateHTTP(context.Background(), bearer(tok))
	var te *jwtauth.TokenError
	if !errors.As(res.Err, &te) || !strings.Contains(te.Reason, "expired") {
		t.Errorf("after expiry: %v", res.Err)
	}
}

func TestAlgorithmsAndKeyTypes(t *testing.T) {
	clk := newClock()
	rs := newRSASigner(t, 0, "r")
	ec := newECSigner(t, "e")
	ps := newRSASigner(t, 1, "p").With(jose.PS256)
	a := mustNew(t, fileConfig(writeKeySet(t, rs, ec, ps)), jwtauth.Options{Now: clk.Now})
	for _, s := range []signer{rs, ec, ps} {
		if res := a.AuthenticateHTTP(context.Background(), bearer(s.Sign(t, claimsAt(clk.Now())))); res.Err != nil {
			t.Errorf("%s: %v", s.Alg, res.Err)
		}
	}
	// An RSA key that names RS256 does not verify PS256, even with its
	// own kid.
	wrongAlg := rs.With(jose.PS256)
	if res := a.AuthenticateHTTP(context.Background(), bearer(wrongAlg.Sign(t, claimsAt(clk.Now())))); res.Err == nil {
		t.Error("a key used with an algorithm other than its own verified")
	}
	// An EC key for ES256 named by an RS256 token.
	confused := newRSASigner(t, 0, "e")
	if res := a.AuthenticateHTTP(context.Background(), bearer(confused.Sign(t, claimsAt(clk.Now())))); res.Err == nil {
		t.Error("an RS256 token verified against an EC key")
	}
}

func TestTokenWithoutKid(t *testing.T) {
	clk := newClock()
	s := newRSASigner(t, 0, "")
	a := mustNew(t, fileConfig(writeKeySet(t, newRSASigner(t, 1, "a"), newRSASigner(t, 0, "b"))), jwtauth.Options{Now: clk.Now})
	if res := a.AuthenticateHTTP(context.Background(), bearer(s.Sign(t, claimsAt(clk.Now())))); res.Err != nil {
		t.Errorf("a token without kid, signed by one of the keys: %v", res.Err)
	}
}

func TestKeySetFileProblems(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{}`, `no "keys" array`},
		{`[]`, "not a JWKS document"},
		{`{"keys":[]}`, "no usable key"},
		{`{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`, "symmetric (oct) key"},
		{`{"keys":[{"kty":"RSA","use":"enc","n":"xx","e":"AQAB"}]}`, `use "enc"`},
		{`{"keys":[{"kty":"XYZ"}]}`, "unusable XYZ key"},
	} {
		path := t.TempDir() + "/jwks.json"
		if err := writeFile(path, tc.doc); err != nil {
			t.Fatal(err)
		}
		_, err := jwtauth.New(fileConfig(path), jwtauth.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.doc, err, tc.want)
		}
		if _, err := jwtauth.LoadKeySetFile(path); err == nil {
			t.Errorf("%s: LoadKeySetFile accepted it", tc.doc)
		}
	}
	if _, err := jwtauth.New(fileConfig("/nonexistent/jwks.json"), jwtauth.Options{}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

// TestPrivateKeyInKeySet checks that a key set publishing a private key
// is not used for it.
func TestPrivateKeyInKeySet(t *testing.T) {
	priv := jose.JSONWebKey{Key: rsaKey(t, 0), KeyID: "k1", Algorithm: "RS256"}
	b, err := priv.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/jwks.json"
	if err := writeFile(path, `{"keys":[`+string(b)+`]}`); err != nil {
		t.Fatal(err)
	}
	if _, err := jwtauth.New(fileConfig(path), jwtauth.Options{}); err == nil || !strings.Contains(err.Error(), "private key material") {
		t.Errorf("err = %v", err)
	}
}
