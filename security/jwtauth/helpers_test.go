package jwtauth_test

import (
	"crypto/rsa"
	"os"
	"sync"
	"testing"
	"time"

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

// clock is a manual clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

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
