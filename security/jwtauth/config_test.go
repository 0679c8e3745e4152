package jwtauth_test

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/weftmesh/weft/security/jwtauth"
)

func TestDecodeYAML(t *testing.T) {
	const doc = `
issuers:
  - issuer: https://id.example/
    audiences: [payments]
    jwks: {url: "https://id.example/.well-known/jwks.json", ca: ca.pem, refreshInterval: 5m, minRefreshInterval: 10s, timeout: 2s}
    algorithms: [RS256, ES256]
from:
  - {header: Authorization}
  - {cookie: session}
optional: true
clockSkew: 10s
forward: true
logClaims: [sub, plan]
`
	var c jwtauth.Config
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Issuers[0].JWKS.RefreshInterval != 5*time.Minute || !c.Optional || len(c.From) != 2 || c.ClockSkew != 10*time.Second {
		t.Errorf("decoded %+v", c)
	}
}

func TestValidate(t *testing.T) {
	ok := jwtauth.Issuer{Issuer: "https://id.example/", Audiences: []string{"a"}, JWKS: jwtauth.JWKS{URL: "https://id.example/jwks"}}
	for _, tc := range []struct {
		name string
		cfg  jwtauth.Config
		want []string
	}{
		{"no issuers", jwtauth.Config{}, []string{"issuers: required"}},
		{"empty issuer", jwtauth.Config{Issuers: []jwtauth.Issuer{{Audiences: []string{"a"}, JWKS: ok.JWKS}}}, []string{"issuers[0].issuer: required"}},
		{"no audience", jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: "x", JWKS: ok.JWKS}}}, []string{"issuers[0].audiences: required"}},
		{"duplicate issuer", jwtauth.Config{Issuers: []jwtauth.Issuer{ok, ok}}, []string{`issuers[1].issuer: "https://id.example/" is also issuers[0]`}},
		{"alg none", jwtauth.Config{Issuers: []jwtauth.Issuer{withAlgs(ok, "none")}}, []string{`"none" means an unsigned token`}},
		{"HMAC", jwtauth.Config{Issuers: []jwtauth.Issuer{withAlgs(ok, "HS256")}}, []string{"HS256 is an HMAC algorithm"}},
		{"lowercase alg", jwtauth.Config{Issuers: []jwtauth.Issuer{withAlgs(ok, "rs256")}}, []string{"write RS256"}},
		{"unknown alg", jwtauth.Config{Issuers: []jwtauth.Issuer{withAlgs(ok, "XX1")}}, []string{"not a signature algorithm"}},
		{"no jwks", jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: "x", Audiences: []string{"a"}}}}, []string{"issuers[0].jwks: set file"}},
		{"both", jwtauth.Config{Issuers: []jwtauth.Issuer{withJWKS(ok, jwtauth.JWKS{File: "k.json", URL: "https://x/"})}}, []string{"set file or url, not both"}},
		{"http url", jwtauth.Config{Issuers: []jwtauth.Issuer{withJWKS(ok, jwtauth.JWKS{URL: "http://id.example/jwks"})}}, []string{"must be fetched over https", "write https://id.example/jwks"}},
		{"ftp url", jwtauth.Config{Issuers: []jwtauth.Issuer{withJWKS(ok, jwtauth.JWKS{URL: "ftp://id.example/jwks"})}}, []string{"not an https:// URL"}},
		{"credentials in url", jwtauth.Config{Issuers: []jwtauth.Issuer{withJWKS(ok, jwtauth.JWKS{URL: "https://u:p@id.example/jwks"})}}, []string{"carries credentials"}},
		{"ca with file", jwtauth.Config{Issuers: []jwtauth.Issuer{withJWKS(ok, jwtauth.JWKS{File: "k.json", CA: "ca.pem"})}}, []string{"jwks.ca: only used to fetch a url"}},
		{"refresh too often", jwtauth.Config{Issuers: []jwtauth.Issuer{withJWKS(ok, jwtauth.JWKS{URL: ok.JWKS.URL, RefreshInterval: time.Second})}}, []string{"refreshInterval: must be at least 10s"}},
		{"min refresh too short", jwtauth.Config{Issuers: []jwtauth.Issuer{withJWKS(ok, jwtauth.JWKS{URL: ok.JWKS.URL, MinRefreshInterval: time.Millisecond})}}, []string{"minRefreshInterval: must be at least 1s"}},
		{"min refresh over refresh", jwtauth.Config{Issuers: []jwtauth.Issuer{withJWKS(ok, jwtauth.JWKS{URL: ok.JWKS.URL, RefreshInterval: time.Minute, MinRefreshInterval: 2 * time.Minute})}}, []string{"is longer than refreshInterval"}},
		{"timeout", jwtauth.Config{Issuers: []jwtauth.Issuer{withJWKS(ok, jwtauth.JWKS{URL: ok.JWKS.URL, Timeout: time.Hour})}}, []string{"timeout: must be between 0 and 1m0s"}},
		{"skew", jwtauth.Config{Issuers: []jwtauth.Issuer{ok}, ClockSkew: time.Hour}, []string{"clockSkew: must be between 0 and 5m0s"}},
		{"empty location", jwtauth.Config{Issuers: []jwtauth.Issuer{ok}, From: []jwtauth.Location{{}}}, []string{"from[0]: set header"}},
		{"header and cookie", jwtauth.Config{Issuers: []jwtauth.Issuer{ok}, From: []jwtauth.Location{{Header: "a", Cookie: "b"}}}, []string{"not both"}},
		{"bad header", jwtauth.Config{Issuers: []jwtauth.Issuer{ok}, From: []jwtauth.Location{{Header: "a b"}}}, []string{"from[0].header: \"a b\" is not a header name"}},
		{"reserved header", jwtauth.Config{Issuers: []jwtauth.Issuer{ok}, From: []jwtauth.Location{{Header: "cookie"}}}, []string{"cannot carry a token"}},
		{"cookie prefix", jwtauth.Config{Issuers: []jwtauth.Issuer{ok}, From: []jwtauth.Location{{Cookie: "s", Prefix: "x"}}}, []string{"from[0].prefix: only used with header"}},
		{"log claim", jwtauth.Config{Issuers: []jwtauth.Issuer{ok}, LogClaims: []string{""}}, []string{"logClaims[0]"}},
	} {
		err := tc.cfg.Validate()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v\nwant it to contain %q", tc.name, err, w)
			}
		}
		if !strings.HasPrefix(err.Error(), "jwtauth: ") {
			t.Errorf("%s: %q lacks the package prefix", tc.name, err)
		}
	}
	if err := (jwtauth.Config{Issuers: []jwtauth.Issuer{ok}}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func withAlgs(is jwtauth.Issuer, algs ...string) jwtauth.Issuer {
	is.Algorithms = algs
	return is
}

func withJWKS(is jwtauth.Issuer, j jwtauth.JWKS) jwtauth.Issuer {
	is.JWKS = j
	return is
}
