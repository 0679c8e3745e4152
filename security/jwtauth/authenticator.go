package jwtauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/weftmesh/weft/security/claims"
)

// maxTokenLen bounds a token; real access tokens are far shorter, and a
// longer one is refused before it is decoded.
const maxTokenLen = 16 << 10

// maxUnnamedCandidates bounds the keys tried for a token that names none,
// so that such a token cannot cost a signature check per key of a large
// key set.
const maxUnnamedCandidates = 4

// ErrNoToken is the error of a request that carries no token where the
// service requires one. It is answered with 401 and a WWW-Authenticate
// challenge.
var ErrNoToken = errors.New("jwtauth: no token")

// TokenError is the error of a request whose token is refused. Reason
// says why, for the server's log; the caller learns only that its token
// is invalid.
type TokenError struct {
	Reason string
}

func (e *TokenError) Error() string { return "jwtauth: invalid token: " + e.Reason }

func invalid(format string, args ...any) *TokenError {
	return &TokenError{Reason: fmt.Sprintf(format, args...)}
}

// Result is the outcome of authenticating one request.
type Result struct {
	// Claims are the verified claims of the request's token; nil when
	// it carried none (and the service accepts that) or when Err is set.
	Claims *claims.Set
	// LogAttrs are the claims Config.LogClaims names, ready for the
	// access log. They are shared: do not modify them.
	LogAttrs []slog.Attr
	// Err is nil for a request that may go on: ErrNoToken, a
	// *TokenError or ErrKeysUnavailable (wrapped) otherwise.
	Err error
}

// Status returns the HTTP status that refuses a request with r.Err: 401,
// or 503 when the keys to check its token are not available; 0 when
// r.Err is nil.
func (r Result) Status() int {
	switch {
	case r.Err == nil:
		return 0
	case errors.Is(r.Err, ErrKeysUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// Options are what an [Authenticator] needs beside its Config.
type Options struct {
	// Service names the service in the realm of WWW-Authenticate
	// challenges.
	Service string
	// Logger receives key set problems. If nil, they are not logged.
	Logger *slog.Logger
	// Previous is the Authenticator being replaced, if any: key sets
	// whose JWKS settings are unchanged are taken over with the keys
	// already read, so a policy reload costs no fetch. The caller still
	// closes Previous.
	Previous *Authenticator
	// Now returns the current time. If nil, time.Now. Tests set it.
	Now func() time.Time
	// After returns a channel that receives once d has passed on the
	// clock Now reads: key sets are read again on its schedule. If nil,
	// time.After. Tests set it with Now, to the same manual clock's.
	After func(d time.Duration) <-chan time.Time
}

// Authenticator verifies the end-user tokens of one service's requests.
// It is immutable apart from its key sets and its cache of verified
// tokens, and safe for concurrent use. Build a new one when the policy
// changes, and Close the old one.
type Authenticator struct {
	cfg      Config
	issuers  map[string]*issuer
	algs     []jose.SignatureAlgorithm // every issuer's, for parsing
	from     []location
	skew     time.Duration
	now      func() time.Time
	cache    *tokenCache
	sources  map[JWKS]*keySource
	acquired []*keySource // one entry per acquisition, released by Close
	missing  string       // WWW-Authenticate for a request without a token
	rejected string       // WWW-Authenticate for an invalid token

	closeOnce sync.Once
}

type issuer struct {
	name      string
	audiences []string
	algs      []string
	keys      *keySource
}

// New validates cfg and returns its Authenticator. It reads key set files
// at once (an unreadable one is an error) and starts fetching key set
// URLs in the background; requests that arrive before a URL answered wait
// for it within their own deadline. Call Close when done with it.
func New(cfg Config, opts Options) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.After == nil {
		opts.After = time.After
	}
	realm := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(opts.Service)
	a := &Authenticator{
		cfg:      cfg,
		issuers:  make(map[string]*issuer, len(cfg.Issuers)),
		from:     compileLocations(cfg.From),
		skew:     cfg.clockSkew(),
		now:      opts.Now,
		cache:    newTokenCache(),
		sources:  make(map[JWKS]*keySource, len(cfg.Issuers)),
		missing:  `Bearer realm="` + realm + `"`,
		rejected: `Bearer realm="` + realm + `", error="invalid_token"`,
	}
	for _, ic := range cfg.Issuers {
		src, err := a.source(ic.JWKS, opts)
		if err != nil {
			a.Close()
			return nil, err
		}
		algs := ic.Algorithms
		if len(algs) == 0 {
			algs = Algorithms
		}
		a.issuers[ic.Issuer] = &issuer{name: ic.Issuer, audiences: slices.Clone(ic.Audiences), algs: slices.Clone(algs), keys: src}
		for _, alg := range algs {
			if !slices.Contains(a.algs, jose.SignatureAlgorithm(alg)) {
				a.algs = append(a.algs, jose.SignatureAlgorithm(alg))
			}
		}
	}
	return a, nil
}

// source returns the key source of cfg: the one of an issuer before it
// with the same settings, else the previous authenticator's, else a new
// one.
func (a *Authenticator) source(cfg JWKS, opts Options) (*keySource, error) {
	s, ok := a.sources[cfg]
	if !ok && opts.Previous != nil {
		s, ok = opts.Previous.sources[cfg]
	}
	if ok {
		s.acquire()
	} else {
		var err error
		if s, err = newKeySource(cfg, opts.Logger, opts.Now, opts.After); err != nil {
			return nil, err
		}
	}
	a.sources[cfg] = s
	a.acquired = append(a.acquired, s)
	return s, nil
}

// Close releases the key sets; those no other Authenticator took over stop
// being refreshed. Requests may still be authenticated afterwards, with
// the keys already read. Close is idempotent.
func (a *Authenticator) Close() {
	if a == nil {
		return
	}
	a.closeOnce.Do(func() {
		for _, s := range a.acquired {
			s.release()
		}
	})
}

// Config returns the configuration a was built from.
func (a *Authenticator) Config() Config { return a.cfg }

// Challenge returns the WWW-Authenticate value that goes with a refusal
// for err (RFC 6750): the realm alone for a missing token, with
// error="invalid_token" for a refused one.
func (a *Authenticator) Challenge(err error) string {
	if errors.Is(err, ErrNoToken) {
		return a.missing
	}
	return a.rejected
}

// AuthenticateHTTP authenticates a request by its HTTP headers.
func (a *Authenticator) AuthenticateHTTP(ctx context.Context, h http.Header) Result {
	return a.authenticate(ctx, httpHeaders(h))
}

// AuthenticateMetadata authenticates a gRPC call by its incoming metadata,
// whose keys are lower case.
func (a *Authenticator) AuthenticateMetadata(ctx context.Context, md map[string][]string) Result {
	return a.authenticate(ctx, metadataHeaders(md))
}

// StripHTTP removes the token from the headers the handler will get,
// unless Config.Forward keeps it.
func (a *Authenticator) StripHTTP(h http.Header) {
	if !a.cfg.Forward {
		strip(a.from, h, false)
	}
}

// StripMetadata is StripHTTP for gRPC metadata; md must be the call's own
// copy.
func (a *Authenticator) StripMetadata(md map[string][]string) {
	if !a.cfg.Forward {
		strip(a.from, md, true)
	}
}

// Forwards reports whether the token stays in the request.
func (a *Authenticator) Forwards() bool { return a.cfg.Forward }

func (a *Authenticator) authenticate(ctx context.Context, h headers) Result {
	token, at, problem := find(a.from, h)
	switch {
	case problem != "":
		return Result{Err: invalid("%s", problem)}
	case at < 0 && a.cfg.Optional:
		return Result{}
	case at < 0:
		return Result{Err: ErrNoToken}
	}
	v, err := a.Verify(ctx, token)
	if err != nil {
		return Result{Err: err}
	}
	return Result{Claims: v.claims, LogAttrs: v.logAttrs}
}

// Verified is a token [Authenticator.Verify] accepted.
type Verified struct {
	claims   *claims.Set
	logAttrs []slog.Attr
}

// Claims returns the token's claims.
func (v Verified) Claims() *claims.Set { return v.claims }

// Verify checks one token: its form, its algorithm, its issuer, its
// signature with one of the issuer's keys, its audience and its times.
// A token seen before is not checked again until it expires, unless its
// key leaves the issuer's key set. Verify waits for the issuer's keys
// within ctx when they are not known yet, or when the token names a key
// the key set does not list and the set may be read again. The error is
// a *TokenError, or wraps ErrKeysUnavailable.
func (a *Authenticator) Verify(ctx context.Context, token string) (Verified, error) {
	if len(token) > maxTokenLen {
		return Verified{}, invalid("longer than %d bytes", maxTokenLen)
	}
	now := a.now()
	digest := sha256.Sum256([]byte(token))
	if v, ok := a.cache.get(digest, now); ok {
		return Verified{v.claims, v.logAttrs}, nil
	}
	v, err := a.verify(ctx, token, now)
	if err != nil {
		return Verified{}, err
	}
	a.cache.put(digest, v, now)
	return Verified{v.claims, v.logAttrs}, nil
}

func (a *Authenticator) verify(ctx context.Context, token string, now time.Time) (*verified, error) {
	jws, err := jose.ParseSignedCompact(token, a.algs)
	if err != nil {
		var unexpected *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &unexpected) {
			return nil, invalid("algorithm %q not accepted", unexpected.Got)
		}
		return nil, invalid("malformed: %s", strings.TrimPrefix(err.Error(), "go-jose/go-jose: "))
	}
	if len(jws.Signatures) != 1 {
		return nil, invalid("%d signatures; a JWT has one", len(jws.Signatures))
	}
	head := jws.Signatures[0].Protected
	alg := head.Algorithm
	unverified, err := claims.Parse(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return nil, invalid("%s", strings.TrimPrefix(err.Error(), "claims: "))
	}
	is, ok := a.issuers[unverified.Issuer()]
	if !ok {
		return nil, invalid("issuer %q not accepted", truncate(unverified.Issuer()))
	}
	if !slices.Contains(is.algs, alg) {
		return nil, invalid("algorithm %q not accepted for issuer %q", alg, is.name)
	}
	keys, err := a.keysFor(ctx, is, head.KeyID, alg)
	if err != nil {
		return nil, err
	}
	var payload []byte
	var key *verifyKey
	for _, k := range keys {
		if p, err := jws.Verify(k.key); err == nil {
			payload, key = p, k
			break
		}
	}
	if key == nil {
		return nil, invalid("signature does not verify with the key of issuer %q named %q", is.name, head.KeyID)
	}
	set, err := claims.Parse(payload)
	if err != nil {
		return nil, invalid("%s", strings.TrimPrefix(err.Error(), "claims: "))
	}
	if err := a.checkClaims(set, is, now); err != nil {
		return nil, err
	}
	v := &verified{claims: set, key: key, expiry: set.Expiry().Add(a.skew), logAttrs: a.logAttrs(set)}
	if nbf := set.NotBefore(); !nbf.IsZero() {
		v.notBefore = nbf.Add(-a.skew)
	}
	return v, nil
}

// checkClaims checks the audience and the times of a verified token.
func (a *Authenticator) checkClaims(s *claims.Set, is *issuer, now time.Time) error {
	aud := s.Audience()
	if !slices.ContainsFunc(is.audiences, func(want string) bool { return slices.Contains(aud, want) }) {
		return invalid("audience %q not accepted", truncate(strings.Join(aud, ",")))
	}
	exp := s.Expiry()
	switch {
	case exp.IsZero():
		return invalid("no exp claim: tokens without an expiry are not accepted")
	case !now.Before(exp.Add(a.skew)):
		return invalid("expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if nbf := s.NotBefore(); !nbf.IsZero() && now.Before(nbf.Add(-a.skew)) {
		return invalid("not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	if iat := s.IssuedAt(); !iat.IsZero() && now.Before(iat.Add(-a.skew)) {
		return invalid("issued in the future, at %s", iat.UTC().Format(time.RFC3339))
	}
	return nil
}

// keysFor returns the keys of is that may verify a token with kid and
// alg. When the key set is not known yet, or lists no key named kid, it
// asks for a read (at most once per minimum interval) and waits for it
// within ctx.
func (a *Authenticator) keysFor(ctx context.Context, is *issuer, kid, alg string) ([]*verifyKey, error) {
	snap := is.keys.current.Load()
	if snap == nil || kid != "" && !snap.hasKID(kid) {
		if ch := is.keys.refresh(); ch != nil {
			select {
			case <-ch:
			case <-ctx.Done():
				if snap == nil {
					return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, ctx.Err())
				}
				return nil, invalid("no key named %q in the key set of issuer %q (a read of the key set is under way)", kid, is.name)
			}
			snap = is.keys.current.Load()
		}
	}
	if snap == nil {
		err := is.keys.lastError()
		if err == nil {
			err = errors.New("no read has finished yet")
		}
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	keys := snap.candidates(kid, alg)
	if kid == "" && len(keys) > maxUnnamedCandidates {
		return nil, invalid("names no key (kid), and %d keys of issuer %q fit algorithm %q: the issuer must name its signing key", len(keys), is.name, alg)
	}
	if len(keys) == 0 {
		if kid != "" && !snap.hasKID(kid) {
			return nil, invalid("no key named %q in the key set of issuer %q", kid, is.name)
		}
		return nil, invalid("no key of issuer %q fits algorithm %q", is.name, alg)
	}
	return keys, nil
}

// logAttrs renders the claims Config.LogClaims names.
func (a *Authenticator) logAttrs(s *claims.Set) []slog.Attr {
	if len(a.cfg.LogClaims) == 0 {
		return nil
	}
	attrs := make([]slog.Attr, 0, len(a.cfg.LogClaims))
	for _, name := range a.cfg.LogClaims {
		raw, ok := s.Raw(name)
		if !ok {
			continue
		}
		if str, ok := s.String(name); ok {
			attrs = append(attrs, slog.String(name, str))
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) == nil {
			attrs = append(attrs, slog.Any(name, v))
		}
	}
	return attrs
}

// Cached returns the number of verified tokens remembered, for tests and
// introspection.
func (a *Authenticator) Cached() int { return a.cache.len() }
