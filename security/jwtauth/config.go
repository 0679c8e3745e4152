package jwtauth

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/weftmesh/weft/internal/fielderr"
)

// Defaults and bounds of the Config fields, each used where the field is
// zero or checked by Validate.
const (
	// DefaultClockSkew is how far clocks may disagree: a token is accepted
	// this long after exp and before nbf.
	DefaultClockSkew = 30 * time.Second
	// MaxClockSkew bounds ClockSkew; more would make expiry meaningless.
	MaxClockSkew = 5 * time.Minute
	// DefaultRefreshInterval is how often a key set is fetched again on
	// schedule, so that keys an issuer adds are known before its first
	// token signed with them arrives.
	DefaultRefreshInterval = 10 * time.Minute
	// MinRefreshInterval bounds RefreshInterval from below.
	MinRefreshInterval = 10 * time.Second
	// DefaultMinRefreshInterval is the least time between two fetches of a
	// key set: a flood of tokens naming unknown keys costs the issuer one
	// fetch per interval, not one per token.
	DefaultMinRefreshInterval = 15 * time.Second
	// DefaultFetchTimeout bounds one fetch of a key set URL.
	DefaultFetchTimeout = 5 * time.Second
	// MaxFetchTimeout bounds FetchTimeout.
	MaxFetchTimeout = time.Minute
)

// Algorithms lists the signature algorithms a token may use: the
// asymmetric ones of RFC 7518 and RFC 8037. HMAC (HS256...) needs a
// shared secret where Weft verifies with published public keys, and
// "none" means no signature: neither is ever accepted.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Config is the end-user authentication of one service, decoded from
// `services.<name>.inbound.jwt`: which issuers' tokens its instances
// accept, where they find them and what they do with them.
type Config struct {
	// Issuers lists the issuers whose tokens are accepted; a token is
	// verified against the issuer its iss claim names. At least one.
	Issuers []Issuer `yaml:"issuers"`
	// From lists where a token is looked for, in order; the first place
	// that holds one is used. If empty, the Authorization header with the
	// "Bearer " scheme. gRPC calls are read the same way from their
	// metadata ("authorization", "cookie").
	From []Location `yaml:"from"`
	// Optional, if true, serves requests without a token, with no claims:
	// authorization rules and external authorization can still refuse
	// them. If false, such a request is refused with 401. A request with
	// an invalid token is refused either way.
	Optional bool `yaml:"optional"`
	// ClockSkew is how far the clocks of the issuer and the service may
	// disagree. If zero, DefaultClockSkew. At most MaxClockSkew.
	ClockSkew time.Duration `yaml:"clockSkew"`
	// Forward, if true, leaves the token in the request the handler gets,
	// so that it can pass it on to the services it calls. If false, the
	// token is removed from every place listed in From (headers deleted,
	// cookies taken out of the Cookie header) before the handler runs:
	// the handler reads the verified claims instead, and a handler that
	// copies headers to its own calls leaks no token.
	Forward bool `yaml:"forward"`
	// LogClaims names the claims written to the access log (with
	// telemetry.accessLog on), under "claims". If empty, none: claims
	// often identify a person.
	LogClaims []string `yaml:"logClaims"`
}

// Issuer is one trusted token issuer.
type Issuer struct {
	// Issuer is the iss claim of its tokens, compared exactly, such as
	// "https://id.example.com/". Required; unique within a Config.
	Issuer string `yaml:"issuer"`
	// Audiences lists the aud values accepted: a token must be meant for
	// one of them. At least one, so that a token issued for another
	// service cannot be replayed here.
	Audiences []string `yaml:"audiences"`
	// JWKS says where the issuer's public keys are.
	JWKS JWKS `yaml:"jwks"`
	// Algorithms lists the signature algorithms accepted, from
	// [Algorithms]. If empty, all of them. A key is used only with an
	// algorithm of its own type (RSA keys with RS and PS, P-256 with
	// ES256, ...) and, when the key names one, its own.
	Algorithms []string `yaml:"algorithms"`
}

// JWKS locates an issuer's JSON Web Key Set (RFC 7517): exactly one of
// File and URL.
type JWKS struct {
	// File is the path of a JWKS document, relative to the policy file's
	// directory. It is read when the policy is loaded (an unreadable or
	// keyless file is a policy error) and again every RefreshInterval.
	File string `yaml:"file"`
	// URL is the https:// address the key set is fetched from, such as
	// the issuer's jwks_uri. It is fetched when the node starts, every
	// RefreshInterval, and when a token names a key it does not know, at
	// most once per MinRefreshInterval. The keys fetched last stay in use
	// while the URL is down.
	URL string `yaml:"url"`
	// CA is the path of the PEM certificates trusted for URL's server,
	// relative to the policy file's directory. If empty, the system's
	// roots.
	CA string `yaml:"ca"`
	// RefreshInterval is how often the key set is read again. If zero,
	// DefaultRefreshInterval. At least MinRefreshInterval.
	RefreshInterval time.Duration `yaml:"refreshInterval"`
	// MinRefreshInterval is the least time between two reads of the key
	// set, whatever asks for them. If zero, DefaultMinRefreshInterval. At
	// least one second and at most RefreshInterval.
	MinRefreshInterval time.Duration `yaml:"minRefreshInterval"`
	// Timeout bounds one fetch of URL. If zero, DefaultFetchTimeout. At
	// most MaxFetchTimeout.
	Timeout time.Duration `yaml:"timeout"`
}

// Location is one place a token is read from: a header (with an optional
// scheme before the token) or a cookie.
type Location struct {
	// Header names the header that carries the token.
	Header string `yaml:"header"`
	// Prefix is what precedes the token in Header, compared without
	// regard to case, such as "Bearer ". A header without it holds no
	// token. If empty, "Bearer " for the Authorization header and nothing
	// for others.
	Prefix string `yaml:"prefix"`
	// Cookie names the cookie that carries the token, in place of Header.
	Cookie string `yaml:"cookie"`
}

// defaultFrom is where tokens are read when From is empty.
var defaultFrom = []Location{{Header: "Authorization"}}

// Validate checks c and returns nil or an error listing every problem,
// keyed relative to the `jwt` section ("issuers[0].jwks.url").
func (c Config) Validate() error {
	var es fielderr.List
	if len(c.Issuers) == 0 {
		es.Add("issuers", "required: list at least one issuer, with its issuer, audiences and jwks")
	}
	seen := make(map[string]int, len(c.Issuers))
	for i, is := range c.Issuers {
		key := fmt.Sprintf("issuers[%d]", i)
		if first, dup := seen[is.Issuer]; dup && is.Issuer != "" {
			es.Add(key+".issuer", "%q is also issuers[%d]: list each issuer once, with all its audiences", is.Issuer, first)
		}
		seen[is.Issuer] = i
		es = append(es, is.validate(key)...)
	}
	for i, l := range c.From {
		es = append(es, l.validate(fmt.Sprintf("from[%d]", i))...)
	}
	if c.ClockSkew < 0 || c.ClockSkew > MaxClockSkew {
		es.Add("clockSkew", "must be between 0 and %s, got %s (if zero, %s)", MaxClockSkew, c.ClockSkew, DefaultClockSkew)
	}
	for i, n := range c.LogClaims {
		if n == "" || !printable(n) {
			es.Add(fmt.Sprintf("logClaims[%d]", i), "%q is not a claim name; write a name like sub", n)
		}
	}
	return es.From("jwtauth").Err()
}

func (is Issuer) validate(key string) fielderr.List {
	var es fielderr.List
	switch {
	case is.Issuer == "":
		es.Add(key+".issuer", "required: write the iss claim of the issuer's tokens, like https://id.example.com/")
	case !printable(is.Issuer):
		es.Add(key+".issuer", "contains a control character")
	}
	if len(is.Audiences) == 0 {
		es.Add(key+".audiences", "required: list the aud values this service accepts, so that tokens issued for other services are refused")
	}
	for j, a := range is.Audiences {
		if a == "" || !printable(a) {
			es.Add(fmt.Sprintf("%s.audiences[%d]", key, j), "%q is not an audience; write the aud value the issuer puts in tokens for this service", a)
		}
	}
	for j, a := range is.Algorithms {
		if msg := algorithmProblem(a); msg != "" {
			es.Add(fmt.Sprintf("%s.algorithms[%d]", key, j), "%s", msg)
		}
	}
	return append(es, is.JWKS.validate(key+".jwks")...)
}

func algorithmProblem(a string) string {
	if slices.Contains(Algorithms, a) {
		return ""
	}
	switch up := strings.ToUpper(a); {
	case up == "NONE":
		return `"none" means an unsigned token, which is never accepted; list signature algorithms like RS256 or ES256`
	case strings.HasPrefix(up, "HS"):
		return fmt.Sprintf("%s is an HMAC algorithm: it needs a shared secret, and tokens here are verified with the issuer's public keys; use RS256, ES256 or EdDSA", a)
	case up == "EDDSA":
		return fmt.Sprintf("%q: write EdDSA", a)
	case slices.Contains(Algorithms, up):
		return fmt.Sprintf("%q: algorithm names are uppercase; write %s", a, up)
	}
	return fmt.Sprintf("%q is not a signature algorithm; use one of %s", a, strings.Join(Algorithms, ", "))
}

func (j JWKS) validate(key string) fielderr.List {
	var es fielderr.List
	switch {
	case j.File == "" && j.URL == "":
		es.Add(key, "set file (a JWKS document on disk) or url (the issuer's https:// jwks_uri)")
	case j.File != "" && j.URL != "":
		es.Add(key, "set file or url, not both")
	case j.URL != "":
		if msg := urlProblem(j.URL); msg != "" {
			es.Add(key+".url", "%s", msg)
		}
	}
	if j.CA != "" && j.URL == "" {
		es.Add(key+".ca", "only used to fetch a url; remove it, or set url")
	}
	if j.Timeout != 0 && j.URL == "" {
		es.Add(key+".timeout", "only used to fetch a url; remove it, or set url")
	}
	refresh, minRefresh := j.refreshInterval(), j.minRefreshInterval()
	if j.RefreshInterval < 0 || j.RefreshInterval != 0 && j.RefreshInterval < MinRefreshInterval {
		es.Add(key+".refreshInterval", "must be at least %s, got %s (if zero, %s)", MinRefreshInterval, j.RefreshInterval, DefaultRefreshInterval)
	}
	if j.MinRefreshInterval < 0 || j.MinRefreshInterval != 0 && j.MinRefreshInterval < time.Second {
		es.Add(key+".minRefreshInterval", "must be at least 1s, got %s (if zero, %s)", j.MinRefreshInterval, DefaultMinRefreshInterval)
	} else if minRefresh > refresh && refresh >= MinRefreshInterval {
		es.Add(key+".minRefreshInterval", "%s is longer than refreshInterval (%s); it bounds how often the keys are read, so keep it shorter", minRefresh, refresh)
	}
	if j.Timeout < 0 || j.Timeout > MaxFetchTimeout {
		es.Add(key+".timeout", "must be between 0 and %s, got %s (if zero, %s)", MaxFetchTimeout, j.Timeout, DefaultFetchTimeout)
	}
	return es
}

func urlProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a URL: %v", truncate(s), err)
	case u.Scheme == "http":
		return fmt.Sprintf("%q: keys must be fetched over https, or anyone on the path could swap them; write https://%s%s", truncate(s), u.Host, u.Path)
	case u.Scheme != "https":
		return fmt.Sprintf("%q is not an https:// URL", truncate(s))
	case u.Host == "":
		return fmt.Sprintf("%q names no host", truncate(s))
	case u.User != nil:
		return fmt.Sprintf("%q carries credentials; key sets are public, fetch them without", truncate(s))
	case u.Fragment != "":
		return fmt.Sprintf("%q has a fragment (#...); remove it", truncate(s))
	}
	return ""
}

func (l Location) validate(key string) fielderr.List {
	var es fielderr.List
	switch {
	case l.Header == "" && l.Cookie == "":
		es.Add(key, "set header (like Authorization) or cookie (a cookie name)")
	case l.Header != "" && l.Cookie != "":
		es.Add(key, "set header or cookie, not both: list them as two entries")
	case l.Header != "" && !httpguts.ValidHeaderFieldName(l.Header):
		es.Add(key+".header", "%q is not a header name", truncate(l.Header))
	case l.Header != "" && pseudoOrReserved(l.Header):
		es.Add(key+".header", "%q cannot carry a token; use Authorization or a header of your own", l.Header)
	case l.Cookie != "" && !httpguts.ValidHeaderFieldName(l.Cookie):
		es.Add(key+".cookie", "%q is not a cookie name", truncate(l.Cookie))
	}
	if l.Prefix != "" && l.Cookie != "" {
		es.Add(key+".prefix", "only used with header; a cookie's value is the token")
	}
	if !printable(l.Prefix) {
		es.Add(key+".prefix", "contains a control character")
	}
	return es
}

// pseudoOrReserved reports headers that carry something else the mesh or
// HTTP itself reads.
func pseudoOrReserved(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Cookie", "Content-Length", "Transfer-Encoding", "Connection", "Te", "Weft-Source", "Weft-Timeout", "Weft-Retry-Owner":
		return true
	}
	return false
}

func (c Config) clockSkew() time.Duration {
	if c.ClockSkew == 0 {
		return DefaultClockSkew
	}
	return c.ClockSkew
}

func (j JWKS) refreshInterval() time.Duration {
	if j.RefreshInterval == 0 {
		return DefaultRefreshInterval
	}
	return j.RefreshInterval
}

func (j JWKS) minRefreshInterval() time.Duration {
	if j.MinRefreshInterval == 0 {
		return DefaultMinRefreshInterval
	}
	return j.MinRefreshInterval
}

func (j JWKS) timeout() time.Duration {
	if j.Timeout == 0 {
		return DefaultFetchTimeout
	}
	return j.Timeout
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	const limit = 80
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "..."
}
