package jwtauth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/weftmesh/weft/security/jwtauth"
)

const (
	testIssuer   = "https://id.example/"
	testAudience = "payments"
)

// rsaKeys are generated once: RSA key generation is slow under -race.
var (
	rsaOnce sync.Once
	rsaKeys [3]*rsa.PrivateKey
)

func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		for j := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
	})
	return rsaKeys[i]
}

// signer signs test tokens with one key.
type signer struct {
	kid string
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

func newRSASigner(t testing.TB, i int, kid string) signer {
	return signer{kid: kid, alg: jose.RS256, key: rsaKey(t, i)}
}

func newECSigner(t testing.TB, kid string) signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid: kid, alg: jose.ES256, key: k}
}

// jwk returns the public JWK of s.
func (s signer) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: s.key.Public(), KeyID: s.kid, Algorithm: string(s.alg), Use: "sig"}
}

// sign returns a compact JWS of claims, with kid in its header when set.
func (s signer) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if s.kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), s.kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: s.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// keySet returns the JWKS document of signers.
func keySet(t testing.TB, signers ...signer) []byte {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, s := range signers {
		set.Keys = append(set.Keys, s.jwk())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeKeySet writes the JWKS of signers to a file and returns its path.
func writeKeySet(t testing.TB, signers ...signer) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, keySet(t, signers...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// claimsAt returns valid claims for the test issuer and audience at now.
func claimsAt(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "aud": []string{testAudience, "other"}, "sub": "alice",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"groups": []string{"admins"}, "plan": "beta", "scope": "orders.read orders.write",
	}
}

func with(c map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(c))
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// unsignedToken returns a token with alg "none" and no signature.
func unsignedToken(t testing.TB, claims map[string]any) string {
	t.Helper()
	return rawToken(t, map[string]any{"alg": "none", "typ": "JWT"}, claims, nil)
}

// hmacWithPublicKey returns a token "signed" HS256 with the PEM of an RSA
// public key as the secret: the algorithm confusion attack on verifiers
// that take the algorithm from the token.
func hmacWithPublicKey(t testing.TB, pub *rsa.PublicKey, kid string, claims map[string]any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return rawToken(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}, claims, secret)
}

// rawToken builds a compact JWS by hand; with a secret, HMAC-SHA256 signs
// it.
func rawToken(t testing.TB, header, claims map[string]any, secret []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sig := ""
	if secret != nil {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		sig = base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	return in + "." + sig
}

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
