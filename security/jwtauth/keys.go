package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	jose "github.com/go-jose/go-jose/v4"
)

// maxKeySet bounds a JWKS document; real ones hold a few keys.
const maxKeySet = 1 << 20

// minRSABits is the smallest RSA modulus a key may have (RFC 7518 section
// 3.3 asks for 2048).
const minRSABits = 2048

// verifyKey is one usable public key of a key set. A key that a later
// version of the set no longer lists is marked revoked, so that tokens
// verified with it and cached stop being accepted.
type verifyKey struct {
	kid   string
	alg   string // the key's own "alg", "" when it names none
	key   crypto.PublicKey
	thumb string // RFC 7638 thumbprint: the same key in two versions of a set
	// revoked is set once the key set stops listing the key.
	revoked atomic.Bool
}

// keySnapshot is one version of a key set. It is immutable.
type keySnapshot struct {
	keys  []*verifyKey
	byKID map[string][]*verifyKey
}

// parseKeySet reads a JWKS document. Keys Weft cannot use are skipped, as
// RFC 7517 section 5 asks, and reported in skipped: unknown key types,
// symmetric keys, private keys, keys for encryption, RSA keys under 2048
// bits. A document that is not a key set, or holds no usable key, is an
// error.
func parseKeySet(doc []byte) (keys []*verifyKey, skipped []string, err error) {
	if len(doc) > maxKeySet {
		return nil, nil, fmt.Errorf("key set of %d bytes exceeds %d", len(doc), maxKeySet)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	if set.Keys == nil {
		return nil, nil, errors.New(`not a JWKS document: no "keys" array`)
	}
	for i, raw := range set.Keys {
		k, why := parseKey(raw)
		if why != "" {
			skipped = append(skipped, fmt.Sprintf("keys[%d]: %s", i, why))
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		msg := "no usable key"
		if len(skipped) > 0 {
			msg += " (" + strings.Join(skipped, "; ") + ")"
		}
		return nil, skipped, errors.New(msg)
	}
	return keys, skipped, nil
}

// parseKey reads one JWK, or says why it cannot verify tokens.
func parseKey(raw json.RawMessage) (*verifyKey, string) {
	var head struct {
		Kty string `json:"kty"`
		Kid string `json:"kid"`
		Use string `json:"use"`
		D   any    `json:"d"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, "not a JSON object"
	}
	switch {
	case head.Kty == "oct":
		return nil, "a symmetric (oct) key: tokens are verified with public keys only"
	case head.D != nil:
		return nil, "holds private key material: publish only the public key"
	case head.Use != "" && head.Use != "sig":
		return nil, fmt.Sprintf("use %q: not a signing key", head.Use)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Sprintf("unusable %s key: %v", head.Kty, strings.TrimPrefix(err.Error(), "go-jose/go-jose: "))
	}
	k := &verifyKey{kid: jwk.KeyID, alg: jwk.Algorithm}
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return nil, fmt.Sprintf("RSA key of %d bits; at least %d are needed", pub.N.BitLen(), minRSABits)
		}
		k.key = pub
	case *ecdsa.PublicKey:
		k.key = pub
	case ed25519.PublicKey:
		k.key = pub
	default:
		return nil, fmt.Sprintf("key type %q cannot verify JWT signatures here", head.Kty)
	}
	if k.alg != "" && keyFits(k.key, k.alg) == "" {
		return nil, fmt.Sprintf("alg %q does not fit the key (or is not accepted)", k.alg)
	}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, "no thumbprint: " + err.Error()
	}
	k.thumb = base64.RawURLEncoding.EncodeToString(thumb)
	return k, ""
}

// keyFits returns the go-jose algorithm for alg when key can verify it,
// else "". RSA keys serve RS and PS, each curve its own ES, Ed25519
// EdDSA; an HMAC algorithm fits no key, so a token signed "HS256" with a
// public key as the secret is never verified.
func keyFits(key crypto.PublicKey, alg string) jose.SignatureAlgorithm {
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return jose.SignatureAlgorithm(alg)
		}
	case *ecdsa.PublicKey:
		switch {
		case alg == "ES256" && k.Curve == elliptic.P256(),
			alg == "ES384" && k.Curve == elliptic.P384(),
			alg == "ES512" && k.Curve == elliptic.P521():
			return jose.SignatureAlgorithm(alg)
		}
	case ed25519.PublicKey:
		if alg == "EdDSA" {
			return jose.EdDSA
		}
	}
	return ""
}

// newSnapshot indexes keys by kid, reusing the values of prev for keys it
// already had (so their revoked marks stay shared with cached tokens) and
// marking revoked those of prev that keys no longer lists.
func newSnapshot(keys []*verifyKey, prev *keySnapshot) *keySnapshot {
	old := map[string]*verifyKey{}
	if prev != nil {
		for _, k := range prev.keys {
			old[k.kid+"\x00"+k.alg+"\x00"+k.thumb] = k
		}
	}
	s := &keySnapshot{keys: make([]*verifyKey, 0, len(keys)), byKID: make(map[string][]*verifyKey, len(keys))}
	for _, k := range keys {
		id := k.kid + "\x00" + k.alg + "\x00" + k.thumb
		if o, ok := old[id]; ok {
			k = o
			delete(old, id)
		}
		s.keys = append(s.keys, k)
		s.byKID[k.kid] = append(s.byKID[k.kid], k)
	}
	for _, k := range old {
		k.revoked.Store(true)
	}
	return s
}

// candidates returns the keys that may have signed a token with the given
// kid ("" when the token names none) and algorithm.
func (s *keySnapshot) candidates(kid, alg string) []*verifyKey {
	var from []*verifyKey
	if kid != "" {
		from = s.byKID[kid]
	} else {
		from = s.keys
	}
	var out []*verifyKey
	for _, k := range from {
		if (k.alg == "" || k.alg == alg) && keyFits(k.key, alg) != "" {
			out = append(out, k)
		}
	}
	return out
}

// hasKID reports whether the set lists a key with kid.
func (s *keySnapshot) hasKID(kid string) bool {
	_, ok := s.byKID[kid]
	return ok
}

// LoadKeySetFile reads and checks the JWKS document at path, as a policy
// is checked: it returns an error when the file cannot be read or holds
// no usable key, and otherwise the problems of keys it skips.
func LoadKeySetFile(path string) (skipped []string, err error) {
	doc, err := readFile(path)
	if err != nil {
		return nil, err
	}
	_, skipped, err = parseKeySet(doc)
	if err != nil {
		return skipped, fmt.Errorf("jwtauth: %s: %w", path, err)
	}
	return skipped, nil
}
