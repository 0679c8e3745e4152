package extauthz

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/weftmesh/weft/internal/fielderr"
)

// FailureMode says what happens to a request when the authorization
// server gives no usable answer: it is down, slow past the timeout, or
// answers something that is not a decision.
type FailureMode string

const (
	// FailDeny refuses the request (503). The default: an outage of the
	// authorization server must not open the service.
	FailDeny FailureMode = "deny"
	// FailAllow serves the request as if the server had allowed it, for
	// checks that only add to what the mesh's own rules enforce.
	FailAllow FailureMode = "allow"
)

// Defaults and bounds of the Config fields.
const (
	// DefaultTimeout bounds one check, as Envoy's ext_authz filter does
	// by default.
	DefaultTimeout = 200 * time.Millisecond
	// MaxTimeout bounds Timeout: a check holds its request that long.
	MaxTimeout = 10 * time.Second
	// MaxCacheTTL bounds CacheTTL: decisions are meant to be cached
	// briefly, so that a revoked permission takes effect soon.
	MaxCacheTTL = 5 * time.Minute
)

// Config is the external authorization of one service, decoded from
// `services.<name>.inbound.extAuthz`: a server asked about every request
// before the handler runs. Set exactly one of Envoy and OPA.
type Config struct {
	// Envoy, if not nil, asks a server of Envoy's ext_authz gRPC API
	// (envoy.service.auth.v3.Authorization/Check).
	Envoy *EnvoyConfig `yaml:"envoy"`
	// OPA, if not nil, asks Open Policy Agent's REST data API (POST
	// /v1/data/<path>).
	OPA *OPAConfig `yaml:"opa"`
	// Timeout bounds one check; a request's own deadline bounds it too.
	// If zero, DefaultTimeout. At most MaxTimeout.
	Timeout time.Duration `yaml:"timeout"`
	// FailureMode is FailDeny or FailAllow. If empty, FailDeny.
	FailureMode FailureMode `yaml:"failureMode"`
	// Headers lists the request headers sent to the server, in any case.
	// If empty, every header is sent, as Envoy does; listing them keeps
	// secrets out of the check and makes cached decisions reusable.
	Headers []string `yaml:"headers"`
	// CacheTTL is the longest time a decision is reused for a request
	// that looks the same to the server (same caller, method, path,
	// query, headers sent and end-user claims). A decision is cached only
	// when the server allows it, for as long as it allows but no longer
	// than CacheTTL: Envoy servers with the number field
	// cache_ttl_seconds of the CheckResponse's dynamic_metadata, OPA
	// policies with cache_ttl_seconds in their result object. If zero,
	// nothing is cached. At most MaxCacheTTL.
	CacheTTL time.Duration `yaml:"cacheTTL"`
}

// EnvoyConfig locates an ext_authz gRPC server.
type EnvoyConfig struct {
	// Address is the server's host:port. Required.
	Address string `yaml:"address"`
	// CA, if set, is the path of the PEM certificates trusted for the
	// server, relative to the policy file's directory, and the connection
	// uses TLS; if empty, plaintext (a server on the same host).
	CA string `yaml:"ca"`
	// ServerName is the name the server's certificate must carry, when
	// it differs from Address's host. Only with CA.
	ServerName string `yaml:"serverName"`
}

// OPAConfig locates an Open Policy Agent decision.
type OPAConfig struct {
	// URL is the base URL of the OPA server, http:// or https://, such as
	// "http://127.0.0.1:8181". Required.
	URL string `yaml:"url"`
	// Path is the decision's path in OPA's data, slash-separated: with
	// "weft/authz/allow" the check is POST <url>/v1/data/weft/authz/allow.
	// Required.
	Path string `yaml:"path"`
	// CA is the path of the PEM certificates trusted for an https URL,
	// relative to the policy file's directory. If empty, the system's
	// roots.
	CA string `yaml:"ca"`
}

// Validate checks c and returns nil or an error listing every problem,
// keyed relative to the `extAuthz` section.
func (c Config) Validate() error {
	var es fielderr.List
	switch {
	case c.Envoy == nil && c.OPA == nil:
		es.Add("envoy", "set envoy (an ext_authz gRPC server) or opa (an Open Policy Agent server)")
	case c.Envoy != nil && c.OPA != nil:
		es.Add("opa", "set envoy or opa, not both")
	}
	if e := c.Envoy; e != nil {
		if e.Address == "" {
			es.Add("envoy.address", "required: write the server's host:port, like 127.0.0.1:9191")
		} else if host, port, err := net.SplitHostPort(e.Address); err != nil || host == "" || port == "" {
			es.Add("envoy.address", "%q is not host:port; write it like 127.0.0.1:9191", truncate(e.Address))
		}
		if e.ServerName != "" && e.CA == "" {
			es.Add("envoy.serverName", "only used with ca (a TLS connection); remove it, or set ca")
		}
	}
	if o := c.OPA; o != nil {
		if msg := opaURLProblem(o.URL); msg != "" {
			es.Add("opa.url", "%s", msg)
		}
		if msg := opaPathProblem(o.Path); msg != "" {
			es.Add("opa.path", "%s", msg)
		}
		if o.CA != "" && !strings.HasPrefix(o.URL, "https://") {
			es.Add("opa.ca", "only used with an https:// url; remove it, or use https")
		}
	}
	if c.Timeout < 0 || c.Timeout > MaxTimeout {
		es.Add("timeout", "must be between 0 and %s, got %s (if zero, %s)", MaxTimeout, c.Timeout, DefaultTimeout)
	}
	switch c.FailureMode {
	case "", FailDeny, FailAllow:
	default:
		es.Add("failureMode", "%q is not a failure mode; write deny (refuse requests when the server gives no answer) or allow", truncate(string(c.FailureMode)))
	}
	for i, h := range c.Headers {
		if !httpguts.ValidHeaderFieldName(h) {
			es.Add(fmt.Sprintf("headers[%d]", i), "%q is not a header name", truncate(h))
		}
	}
	if c.CacheTTL < 0 || c.CacheTTL > MaxCacheTTL {
		es.Add("cacheTTL", "must be between 0 (no cache) and %s, got %s", MaxCacheTTL, c.CacheTTL)
	}
	return es.From("extauthz").Err()
}

func opaURLProblem(s string) string {
	if s == "" {
		return "required: write the OPA server's base URL, like http://127.0.0.1:8181"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a URL: %v", truncate(s), err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q is not an http:// or https:// URL", truncate(s))
	case u.Host == "":
		return fmt.Sprintf("%q names no host", truncate(s))
	case u.Path != "" && u.Path != "/":
		return fmt.Sprintf("%q has a path; write the server's base URL (%s://%s) and the decision under path", truncate(s), u.Scheme, u.Host)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Sprintf("%q has a query or fragment; write the server's base URL", truncate(s))
	}
	return ""
}

func opaPathProblem(s string) string {
	if s == "" {
		return "required: write the decision's path in OPA's data, like weft/authz/allow"
	}
	if strings.HasPrefix(s, "v1/data") || strings.HasPrefix(s, "/v1/data") {
		return fmt.Sprintf("%q: write the path below /v1/data/, like %s", truncate(s), strings.TrimPrefix(strings.TrimPrefix(s, "/"), "v1/data/"))
	}
	for _, seg := range strings.Split(strings.Trim(s, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Sprintf("%q has an empty, '.' or '..' segment", truncate(s))
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return fmt.Sprintf("%q: a segment holds %q; use letters, digits, '_' and '-'", truncate(s), c)
			}
		}
	}
	return ""
}

func (c Config) timeout() time.Duration {
	if c.Timeout == 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

func truncate(s string) string {
	const limit = 80
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "..."
}
