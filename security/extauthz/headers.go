package extauthz

import (
	"net/http"
	"strings"
)

// ApplyToRequest applies an allowed decision's header changes to a
// request's headers before the handler gets them: removals first, then
// additions. h is an HTTP header (lower is false: keys canonical) or gRPC
// metadata (lower is true: keys in lower case), and must be the
// request's own copy.
func (d Decision) ApplyToRequest(h map[string][]string, lower bool) {
	for _, name := range d.RemoveHeaders {
		delete(h, key(name, lower))
	}
	apply(h, d.RequestHeaders, lower)
}

// ApplyToResponse adds the decision's response headers, allowed or
// denied, to w's headers before anything is written.
func (d Decision) ApplyToResponse(h http.Header) { apply(h, d.ResponseHeaders, false) }

func apply(h map[string][]string, hs []Header, lower bool) {
	for _, x := range hs {
		k := key(x.Name, lower)
		_, present := h[k]
		switch x.Action {
		case AppendHeader:
			h[k] = append(h[k], x.Value)
		case AddHeaderIfAbsent:
			if !present {
				h[k] = []string{x.Value}
			}
		case SetHeaderIfPresent:
			if present {
				h[k] = []string{x.Value}
			}
		default:
			h[k] = []string{x.Value}
		}
	}
}

func key(name string, lower bool) string {
	if lower {
		return strings.ToLower(name)
	}
	return http.CanonicalHeaderKey(name)
}
