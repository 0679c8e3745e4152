package rpc

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/resilience/ringhash"
)

// Metadata keys: the HTTP headers of the same meaning, in the lower case
// gRPC metadata uses, so that a gateway that copies headers into metadata
// (or back) keeps them working.
var (
	sourceKey      = strings.ToLower(engine.SourceHeader)
	ownerKey       = strings.ToLower(retry.OwnerHeader)
	timeoutKey     = strings.ToLower(retry.TimeoutHeader)
	idempotencyKey = strings.ToLower(retry.IdempotencyKeyHeader)
)

// retryAfterKey is the trailer by which a server asks the caller to wait,
// in seconds, as HTTP's Retry-After header does.
const retryAfterKey = "retry-after"

// Request returns the HTTP request that a gRPC call to fullMethod with
// metadata md is matched as: method POST, URL path the full method name
// ("/shop.Payments/Charge"), headers the metadata (keys in canonical
// form, pseudo-headers left out). Route tables, hash keys and
// authorization read gRPC calls through it, so that a policy's routes mean
// the same for both protocols: `path: /shop.Payments/Charge`,
// `pathPrefix: /shop.Payments/` and `headers: {x-canary: "1"}` work as
// written. The request shares md's value slices.
func Request(fullMethod string, md metadata.MD) *http.Request {
	h := make(http.Header, len(md))
	for k, v := range md {
		if strings.HasPrefix(k, ":") || len(v) == 0 {
			continue
		}
		h[textproto.CanonicalMIMEHeaderKey(k)] = v
	}
	return &http.Request{Method: http.MethodPost, URL: &url.URL{Path: fullMethod}, Header: h}
}

// hashKey returns the ring_hash key the destination names, read from the
// call's outgoing metadata: a header key as metadata, a cookie from the
// "cookie" metadata.
func hashKey(md metadata.MD, key resilience.HashKey) (uint64, bool) {
	var v string
	switch {
	case key.Header != "":
		if vals := md.Get(key.Header); len(vals) > 0 {
			v = vals[0]
		}
	case key.Cookie != "":
		if vals := md.Get("cookie"); len(vals) > 0 {
			r := http.Request{Header: http.Header{"Cookie": vals}}
			if c, err := r.Cookie(key.Cookie); err == nil {
				v = c.Value
			}
		}
	}
	if v == "" {
		return 0, false
	}
	return ringhash.Key(v), true
}

// first returns the first value of key in md, or "".
func first(md metadata.MD, key string) string {
	if vals := md[key]; len(vals) > 0 {
		return vals[0]
	}
	return ""
}
