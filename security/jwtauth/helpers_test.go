package jwtauth_test

import (
	"crypto/rsa"
	"os"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/clocktest"
	"github.com/weftmesh/weft/internal/jwttest"
	"github.com/weftmesh/weft/security/jwtauth"
)

const (
	testIssuer   = "https://id.example/"
	testAudience = "payments"
)

// signer signs test tokens with one key.
type signer = *jwttest.Key

func newRSASigner(t testing.TB, i int, kid string) signer { return jwttest.RSA(t, i, kid) }

func newECSigner(t testing.TB, kid string) signer { return jwttest.EC(t, kid) }

func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	return jwttest.RSA(t, i, "").Key.(*rsa.PrivateKey)
}

func keySet(t testing.TB, signers ...signer) []byte { return jwttest.KeySet(t, signers...) }

func writeKeySet(t testing.TB, signers ...signer) string { return jwttest.WriteKeySet(t, signers...) }

// claimsAt returns valid claims for the test issuer and audience at now.
func claimsAt(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "aud": []string{testAudience, "other"}, "sub": "alice",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"groups": []string{"admins"}, "plan": "beta", "scope": "orders.read orders.write",
	}
}

func with(c map[string]any, kv ...any) map[string]any { return jwttest.With(c, kv...) }

// newClock returns a manual clock for Options.Now, at a whole second.
func newClock() *clocktest.Clock { return clocktest.New(time.Now().Truncate(time.Second)) }

// fileConfig is a Config trusting one issuer whose keys are in a file.
func fileConfig(path string) jwtauth.Config {
	return jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: testIssuer, Audiences: []string{testAudience}, JWKS: jwtauth.JWKS{File: path}}}}
}

func mustNew(t testing.TB, cfg jwtauth.Config, opts jwtauth.Options) *jwtauth.Authenticator {
	t.Helper()
	if opts.Service == "" {
		opts.Service = "payments"
	}
	a, err := jwtauth.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
