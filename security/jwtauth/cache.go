package jwtauth

import (
	"crypto/sha256"
	"log/slog"
	"time"

	"github.com/weftmesh/weft/internal/expiring"
	"github.com/weftmesh/weft/security/claims"
)

// maxCached bounds the tokens an Authenticator remembers.
const maxCached = 10_000

// verified is a token whose signature and claims were checked, kept so
// that its next requests skip the signature check: what was verified
// once stays verified, and only time (exp, nbf) and the key's presence in
// the issuer's key set can change the verdict, and both are checked on
// every use.
type verified struct {
	claims    *claims.Set
	logAttrs  []slog.Attr
	key       *verifyKey
	expiry    time.Time // exp plus the clock skew
	notBefore time.Time // nbf minus the clock skew; zero without nbf
}

// tokenCache maps the SHA-256 of a token to its verification. Keys are
// digests, so that the cache holds no usable token.
type tokenCache struct {
	m *expiring.Map[[sha256.Size]byte, *verified]
}

func newTokenCache() *tokenCache {
	return &tokenCache{m: expiring.New[[sha256.Size]byte, *verified](maxCached)}
}

// get returns the cached verification of the token with digest d, if it
// is still good at now: not expired, valid already, its key still listed.
func (c *tokenCache) get(d [sha256.Size]byte, now time.Time) (*verified, bool) {
	v, ok := c.m.Get(d, now)
	switch {
	case !ok:
		return nil, false
	case v.key.revoked.Load():
		c.m.Delete(d)
		return nil, false
	case now.Before(v.notBefore):
		return nil, false
	}
	return v, true
}

// put remembers a verification until the token expires.
func (c *tokenCache) put(d [sha256.Size]byte, v *verified, now time.Time) {
	c.m.Put(d, v, v.expiry, now)
}

// len returns the number of tokens remembered.
func (c *tokenCache) len() int { return c.m.Len() }
