// Package jwttest signs JSON Web Tokens for Weft's tests with keys of its
// own: valid tokens, and the malformed and malicious ones end-user
// authentication must refuse (unsigned, HMAC-"signed" with a public key,
// hand-built headers). Keys are published as a JWKS document, in memory
// or in a file.
package jwttest

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

	jose "github.com/go-jose/go-jose/v4"
)

// Key is a signing key with its key ID and algorithm.
type Key struct {
	ID  string
	Alg jose.SignatureAlgorithm
	Key crypto.Signer
}

// rsaPool holds RSA keys generated once per test binary: generating them
// is slow under the race detector.
var (
	rsaOnce sync.Once
	rsaPool [3]*rsa.PrivateKey
)

// RSA returns an RS256 key named kid, the i-th (0 to 2) of the process's
// RSA keys: two Keys with the same i share the key material.
func RSA(t testing.TB, i int, kid string) *Key {
	t.Helper()
	rsaOnce.Do(func() {
		for j := range rsaPool {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaPool[j] = k
		}
	})
	return &Key{ID: kid, Alg: jose.RS256, Key: rsaPool[i]}
}

// EC returns a new ES256 key named kid.
func EC(t testing.TB, kid string) *Key {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{ID: kid, Alg: jose.ES256, Key: k}
}

// With returns a copy of k with another algorithm, for tokens that use a
// key with an algorithm it is not for.
func (k *Key) With(alg jose.SignatureAlgorithm) *Key {
	c := *k
	c.Alg = alg
	return &c
}

// JWK returns the public JWK of k.
func (k *Key) JWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Key.Public(), KeyID: k.ID, Algorithm: string(k.Alg), Use: "sig"}
}

// Sign returns a compact JWS of claims, with k's kid in its header when
// it has one.
func (k *Key) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return k.SignRaw(t, payload)
}

// SignRaw signs payload as it is, for payloads json.Marshal cannot make
// (a claim named twice).
func (k *Key) SignRaw(t testing.TB, payload []byte) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.ID != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), k.ID)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: k.Key}, opts)
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

// KeySet returns the JWKS document of keys' public halves.
func KeySet(t testing.TB, keys ...*Key) []byte {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.JWK())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// WriteKeySet writes the JWKS of keys into a new file and returns its path.
func WriteKeySet(t testing.TB, keys ...*Key) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, KeySet(t, keys...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Unsigned returns a token with alg "none" and no signature.
func Unsigned(t testing.TB, claims map[string]any) string {
	t.Helper()
	return Raw(t, map[string]any{"alg": "none", "typ": "JWT"}, claims, nil)
}

// HMACWithPublicKey returns a token "signed" HS256 with the PEM of an RSA
// public key as the secret: the algorithm confusion attack on verifiers
// that take the algorithm from the token.
func HMACWithPublicKey(t testing.TB, k *Key, claims map[string]any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return Raw(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": k.ID}, claims, secret)
}

// Raw builds a compact JWS by hand; with a secret, HMAC-SHA256 signs it,
// and without, the signature is empty.
func Raw(t testing.TB, header, claims map[string]any, secret []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sig := ""
	if secret != nil {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		sig = base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	return in + "." + sig
}

// With returns a copy of claims with kv (name, value, name, value...)
// set; a nil value removes the claim.
func With(claims map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(claims)+len(kv)/2)
	for k, v := range claims {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		name, _ := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, name)
			continue
		}
		out[name] = kv[i+1]
	}
	return out
}
