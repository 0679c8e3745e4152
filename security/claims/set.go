package claims

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// maxPayload bounds the claims a Set is made from; a token carrying more
// is refused rather than parsed.
const maxPayload = 64 << 10

// Set is the verified claims of one end user's token. It is immutable and
// safe for concurrent use; a nil *Set has no claims.
type Set struct {
	payload  []byte // the JSON object as the token carried it
	raw      map[string]json.RawMessage
	values   map[string][]string // what each claim holds, for matching
	scopes   []string            // the words of scope and scp together
	subject  string
	issuer   string
	audience []string
	expiry   time.Time
	notBef   time.Time
	issued   time.Time
	digest   string
}

// Parse makes a Set from a token's payload, a JSON object of claims. It
// refuses a payload that is not one object, repeats a claim name (two
// readers of such a token could disagree about its value), is larger than
// 64 KiB, or whose registered claims have the wrong type: iss and sub
// must be strings, aud a string or an array of strings, exp, nbf and iat
// numbers.
//
// Parse checks no signature and no time: that is the verifier's job. It
// copies payload.
func Parse(payload []byte) (*Set, error) {
	if len(payload) > maxPayload {
		return nil, fmt.Errorf("claims: payload of %d bytes exceeds %d", len(payload), maxPayload)
	}
	raw, err := decodeObject(payload)
	if err != nil {
		return nil, err
	}
	s := &Set{payload: bytes.Clone(payload), raw: raw, values: make(map[string][]string, len(raw))}
	for name, v := range raw {
		if vals := matchValues(name, v); len(vals) > 0 {
			s.values[name] = vals
		}
	}
	s.scopes = union(s.values["scope"], s.values["scp"])
	if err := s.registered(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(payload)
	s.digest = hex.EncodeToString(sum[:])
	return s, nil
}

// decodeObject splits a JSON object into its members, refusing duplicates.
func decodeObject(payload []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("claims: payload is not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("claims: payload is not a JSON object")
	}
	raw := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("claims: payload is not JSON: %w", err)
		}
		name, _ := tok.(string)
		if _, dup := raw[name]; dup {
			return nil, fmt.Errorf("claims: claim %q appears twice", truncate(name))
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("claims: claim %q: %w", truncate(name), err)
		}
		raw[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("claims: payload is not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("claims: payload has data after its JSON object")
	}
	return raw, nil
}

// registered reads the registered claims of RFC 7519 that have a type.
func (s *Set) registered() error {
	var err error
	if s.issuer, err = s.stringClaim("iss"); err != nil {
		return err
	}
	if s.subject, err = s.stringClaim("sub"); err != nil {
		return err
	}
	if v, ok := s.raw["aud"]; ok {
		var one string
		if json.Unmarshal(v, &one) == nil {
			s.audience = []string{one}
		} else if err := json.Unmarshal(v, &s.audience); err != nil {
			return errors.New("claims: aud is neither a string nor an array of strings")
		}
	}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"exp", &s.expiry}, {"nbf", &s.notBef}, {"iat", &s.issued}} {
		v, ok := s.raw[t.name]
		if !ok {
			continue
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
			return fmt.Errorf("claims: %s is not a time in seconds since 1970", t.name)
		}
		sec, frac := math.Modf(f)
		*t.to = time.Unix(int64(sec), int64(frac*1e9))
	}
	return nil
}

func (s *Set) stringClaim(name string) (string, error) {
	v, ok := s.raw[name]
	if !ok {
		return "", nil
	}
	var str string
	if err := json.Unmarshal(v, &str); err != nil {
		return "", fmt.Errorf("claims: %s is not a string", name)
	}
	return str, nil
}

// matchValues returns what a claim holds for matching: a scalar as its
// text, the scalar elements of an array, the words of a scope.
func matchValues(name string, v json.RawMessage) []string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil
	}
	if v[0] == '[' {
		var elems []json.RawMessage
		if json.Unmarshal(v, &elems) != nil {
			return nil
		}
		out := make([]string, 0, len(elems))
		for _, e := range elems {
			if s, ok := scalar(e); ok {
				out = append(out, s)
			}
		}
		return out
	}
	s, ok := scalar(v)
	if !ok {
		return nil
	}
	if isScope(name) && v[0] == '"' {
		return strings.Fields(s)
	}
	return []string{s}
}

// isScope reports whether a claim is an OAuth 2.0 scope: a string of
// space-separated words (RFC 8693 section 4.2), or an array of them.
// Issuers name it "scope" (RFC 8693, RFC 9068) or "scp" (ORY Hydra,
// Okta, Microsoft Entra), so both names mean the token's scopes.
func isScope(name string) bool { return name == "scope" || name == "scp" }

// union returns the elements of a, then those of b that a lacks; a or b
// itself when the other adds nothing.
func union(a, b []string) []string {
	var out []string
	for _, v := range b {
		if !slices.Contains(a, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return a
	}
	if len(a) == 0 {
		return out
	}
	return append(slices.Clip(a), out...)
}

// scalar returns a JSON string's value, or a number's or boolean's text.
func scalar(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	switch c := v[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	case c == 't' || c == 'f' || c == '-' || c >= '0' && c <= '9':
		if string(v) == "null" {
			return "", false
		}
		return string(v), true
	}
	return "", false
}

// Subject returns the sub claim, or "".
func (s *Set) Subject() string {
	if s == nil {
		return ""
	}
	return s.subject
}

// Issuer returns the iss claim, or "".
func (s *Set) Issuer() string {
	if s == nil {
		return ""
	}
	return s.issuer
}

// Audience returns the aud claim as a list, in a new slice.
func (s *Set) Audience() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.audience)
}

// Expiry returns the exp claim, or the zero time without one.
func (s *Set) Expiry() time.Time {
	if s == nil {
		return time.Time{}
	}
	return s.expiry
}

// NotBefore returns the nbf claim, or the zero time without one.
func (s *Set) NotBefore() time.Time {
	if s == nil {
		return time.Time{}
	}
	return s.notBef
}

// IssuedAt returns the iat claim, or the zero time without one.
func (s *Set) IssuedAt() time.Time {
	if s == nil {
		return time.Time{}
	}
	return s.issued
}

// String returns the value of a string claim; ok is false when the claim
// is absent or not a string.
func (s *Set) String(name string) (v string, ok bool) {
	if s == nil {
		return "", false
	}
	raw, found := s.raw[name]
	if !found || len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	return v, true
}

// Values returns what the claim holds for matching, in a new slice: a
// string, number or boolean claim as one value (numbers and booleans as
// written in JSON), the strings, numbers and booleans of an array claim,
// the words of a `scope` or `scp` string. Objects and null hold nothing.
func (s *Set) Values(name string) []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.values[name])
}

// Scopes returns the token's OAuth 2.0 scopes, in a new slice: the words
// of its `scope` claim, then those of its `scp` claim that `scope` does
// not list; each claim may be a space-separated string or an array. A
// condition on `scope` or `scp` matches these.
func (s *Set) Scopes() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.scopes)
}

// Has reports whether the claim holds value, as [Set.Values] lists it.
// It does not allocate.
func (s *Set) Has(name, value string) bool {
	if s == nil {
		return false
	}
	return slices.Contains(s.values[name], value)
}

// Raw returns the claim's JSON value, in a new slice; ok is false when
// the token does not carry the claim.
func (s *Set) Raw(name string) (v json.RawMessage, ok bool) {
	if s == nil {
		return nil, false
	}
	raw, ok := s.raw[name]
	return bytes.Clone(raw), ok
}

// Names returns the names of the claims, sorted.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(s.raw))
}

// JSON returns the claims as the token carried them, a JSON object, in a
// new slice; "{}" for a nil Set.
func (s *Set) JSON() []byte {
	if s == nil {
		return []byte("{}")
	}
	return bytes.Clone(s.payload)
}

// Digest returns the hex SHA-256 of the claims as the token carried them:
// two tokens with the same claims have the same digest. Caches of
// decisions that depend on the claims key on it.
func (s *Set) Digest() string {
	if s == nil {
		return ""
	}
	return s.digest
}

type contextKey struct{}

// NewContext returns a copy of ctx that carries s.
func NewContext(ctx context.Context, s *Set) context.Context {
	return context.WithValue(ctx, contextKey{}, s)
}

// FromContext returns the claims ctx carries; ok is false when it
// carries none: the request had no verified token, or its service does
// not authenticate end users.
func FromContext(ctx context.Context) (s *Set, ok bool) {
	if ctx == nil {
		return nil, false
	}
	s, _ = ctx.Value(contextKey{}).(*Set)
	return s, s != nil
}

// truncate shortens s for quoting in an error.
func truncate(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "..."
}
