// Package opa is the [extauthz.Checker] of Open Policy Agent's REST data
// API: each request is a POST to <url>/v1/data/<path> whose input
// describes it, and the decision at that path answers.
//
// The input is
//
//	{"service": "payments", "protocol": "http", "method": "GET",
//	 "path": "/orders/7", "query": "verbose=1", "host": "payments",
//	 "scheme": "https", "headers": {"x-tenant": "acme"},
//	 "source": {"principal": "spiffe://example.org/svc/checkout",
//	            "service": "checkout", "address": "10.0.0.7:50312"},
//	 "claims": {"iss": "https://id.example/", "sub": "alice", ...}}
//
// with "claims" left out when the request carries no verified token, and
// header names in lower case. The decision is either a boolean (allow or
// deny) or an object:
//
//	{"allow": false, "status": 401, "body": "log in first",
//	 "headers": {"x-user": "alice"},            // set on an allowed request
//	 "response_headers": {"x-why": "policy"},   // added to the response
//	 "cache_ttl_seconds": 5}                    // how long it may be reused
//
// where only allow is required. An undefined decision (OPA answers no
// "result": the path names nothing, or no rule matched and it has no
// default) denies the request, and is logged as such by the middleware:
// a misspelt path must not open a service, whatever the failure mode.
package opa

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/weftmesh/weft/internal/pemfile"
	"github.com/weftmesh/weft/security/extauthz"
)

// maxResponse bounds what is read of OPA's answer.
const maxResponse = 1 << 20

// Checker asks one OPA server for one decision.
type Checker struct {
	url    string
	path   string
	client *http.Client
}

// New returns a Checker for the decision cfg names.
func New(cfg extauthz.OPAConfig) (*Checker, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CA != "" {
		pool, err := pemfile.CertPool(cfg.CA)
		if err != nil {
			return nil, fmt.Errorf("extauthz: opa.ca: %w", err)
		}
		tc.RootCAs = pool
	}
	return &Checker{
		url:  strings.TrimSuffix(cfg.URL, "/") + "/v1/data/" + strings.Trim(cfg.Path, "/"),
		path: strings.Trim(cfg.Path, "/"),
		client: &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     tc,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		}},
	}, nil
}

// Close closes the idle connections.
func (c *Checker) Close() error {
	c.client.CloseIdleConnections()
	return nil
}

// Input is the document OPA receives as input.
type Input struct {
	Service  string            `json:"service"`
	Protocol string            `json:"protocol"`
	Method   string            `json:"method"`
	Path     string            `json:"path"`
	Query    string            `json:"query,omitempty"`
	Host     string            `json:"host,omitempty"`
	Scheme   string            `json:"scheme,omitempty"`
	Headers  map[string]string `json:"headers"`
	Source   Source            `json:"source"`
	Claims   json.RawMessage   `json:"claims,omitempty"`
}

// Source is the input's caller.
type Source struct {
	Principal string `json:"principal,omitempty"`
	Service   string `json:"service,omitempty"`
	Address   string `json:"address,omitempty"`
}

// NewInput describes r as OPA's input.
func NewInput(r *extauthz.Request) Input {
	in := Input{
		Service: r.Service, Protocol: r.Protocol, Method: r.Method, Path: r.Path, Query: r.Query,
		Host: r.Host, Scheme: r.Scheme, Headers: r.Headers,
		Source: Source{Principal: r.Source.Principal, Service: r.Source.Service, Address: r.Source.Address},
	}
	if in.Headers == nil {
		in.Headers = map[string]string{}
	}
	if r.Claims != nil {
		in.Claims = r.Claims.JSON()
	}
	return in
}

// Check asks OPA about r.
func (c *Checker) Check(ctx context.Context, r *extauthz.Request) (extauthz.Answer, error) {
	body, err := json.Marshal(struct {
		Input Input `json:"input"`
	}{NewInput(r)})
	if err != nil {
		return extauthz.Answer{}, fmt.Errorf("extauthz: opa: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return extauthz.Answer{}, fmt.Errorf("extauthz: opa: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return extauthz.Answer{}, fmt.Errorf("extauthz: opa: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return extauthz.Answer{}, fmt.Errorf("extauthz: opa: read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return extauthz.Answer{}, fmt.Errorf("extauthz: opa answered %s: %s", resp.Status, snippet(raw))
	}
	if len(raw) > maxResponse {
		return extauthz.Answer{}, fmt.Errorf("extauthz: opa: the answer exceeds %d bytes", maxResponse)
	}
	return Decode(raw, c.path)
}

// Decode reads OPA's answer to a data API request for the decision at
// path.
func Decode(raw []byte, path string) (extauthz.Answer, error) {
	var doc struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return extauthz.Answer{}, fmt.Errorf("extauthz: opa: the answer is not JSON: %s", snippet(raw))
	}
	res := bytes.TrimSpace(doc.Result)
	if len(res) == 0 {
		return extauthz.Answer{Reason: "the decision " + path + " is undefined: check the path and that the policy defines it for every input (a default)"}, nil
	}
	var allow bool
	if err := json.Unmarshal(res, &allow); err == nil {
		return extauthz.Answer{Allow: allow}, nil
	}
	var obj struct {
		Allow           *bool             `json:"allow"`
		Status          int               `json:"status"`
		Body            string            `json:"body"`
		Headers         map[string]string `json:"headers"`
		ResponseHeaders map[string]string `json:"response_headers"`
		CacheTTLSeconds *float64          `json:"cache_ttl_seconds"`
		Reason          string            `json:"reason"`
	}
	if err := json.Unmarshal(res, &obj); err != nil {
		return extauthz.Answer{}, fmt.Errorf("extauthz: opa: the decision %s is neither a boolean nor an object with allow: %s", path, snippet(res))
	}
	if obj.Allow == nil {
		return extauthz.Answer{}, fmt.Errorf("extauthz: opa: the decision %s has no boolean allow: %s", path, snippet(res))
	}
	ans := extauthz.Answer{Allow: *obj.Allow, Status: obj.Status, Body: obj.Body, Reason: obj.Reason}
	for _, k := range sortedKeys(obj.Headers) {
		ans.RequestHeaders = append(ans.RequestHeaders, extauthz.Header{Name: k, Value: obj.Headers[k]})
	}
	for _, k := range sortedKeys(obj.ResponseHeaders) {
		ans.ResponseHeaders = append(ans.ResponseHeaders, extauthz.Header{Name: k, Value: obj.ResponseHeaders[k]})
	}
	if s := obj.CacheTTLSeconds; s != nil {
		if math.IsNaN(*s) || *s < 0 {
			return extauthz.Answer{}, errors.New("extauthz: opa: cache_ttl_seconds is not a number of seconds")
		}
		ans.CacheFor = time.Duration(min(*s, 86400) * float64(time.Second))
	}
	return ans, nil
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

func snippet(b []byte) string {
	const limit = 120
	s := strings.ToValidUTF8(string(bytes.TrimSpace(b)), "?")
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return fmt.Sprintf("%q", s)
}
