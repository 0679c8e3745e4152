package jwtauth

import (
	"crypto/sha256"
	"log/slog"
	"sync"
	"time"

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
	mu sync.RWMutex
	m  map[[sha256.Size]byte]*verified
}

func newTokenCache() *tokenCache {
	return &tokenCache{m: make(map[[sha256.Size]byte]*verified)}
}

// get returns the cached verification of the token with digest d, if it
// is still good at now.
func (c *tokenCache) get(d [sha256.Size]byte, now time.Time) (*verified, bool) {
	c.mu.RLock()
	v, ok := c.m[d]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	if !now.Before(v.expiry) || now.Before(v.notBefore) || v.key.revoked.Load() {
		if !now.Before(v.expiry) || v.key.revoked.Load() {
			c.mu.Lock()
			delete(c.m, d)
			c.mu.Unlock()
		}
		return nil, false
	}
	return v, true
}

// put remembers a verification; a full cache first drops the tokens that
// have expired, then, if still full, an arbitrary eighth of the rest.
func (c *tokenCache) put(d [sha256.Size]byte, v *verified, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCached {
		for k, e := range c.m {
			if !now.Before(e.expiry) || e.key.revoked.Load() {
				delete(c.m, k)
			}
		}
		drop := len(c.m) - maxCached*7/8
		for k := range c.m {
			if drop <= 0 {
				break
			}
			delete(c.m, k)
			drop--
		}
	}
	c.m[d] = v
}

// len returns the number of tokens remembered.
func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
