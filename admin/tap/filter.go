package tap

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Filter selects events; its zero value selects all. Every field that is
// set must match.
type Filter struct {
	// Service matches the event's source or destination service.
	Service string
	// Path matches the start of the HTTP path, or of the gRPC full method
	// name ("/shop.Payments/").
	Path string
	// Status is a status ("503", or a gRPC code such as "14"), a class
	// ("2xx", "4xx", "5xx") or "failed". "5xx" and "failed" both match
	// failed requests: no answer, an HTTP 5xx or a gRPC code that stands
	// for one.
	Status string
	// Direction is [Inbound] or [Outbound].
	Direction string
	// Protocol is "http" or "grpc".
	Protocol string
	// Method matches the HTTP method, or the gRPC full method name.
	Method string
}

// ParseFilter reads a filter from URL query parameters of the same names
// in lowercase, checking each.
func ParseFilter(q url.Values) (Filter, error) {
	f := Filter{
		Service: q.Get("service"), Path: q.Get("path"), Status: strings.ToLower(q.Get("status")),
		Direction: q.Get("direction"), Protocol: q.Get("protocol"), Method: q.Get("method"),
	}
	switch f.Direction {
	case "", Inbound, Outbound:
	default:
		return f, fmt.Errorf("tap: direction %q: write in or out", f.Direction)
	}
	switch f.Protocol {
	case "", "http", "grpc":
	default:
		return f, fmt.Errorf("tap: protocol %q: write http or grpc", f.Protocol)
	}
	if f.Status != "" && !validStatus(f.Status) {
		return f, fmt.Errorf("tap: status %q: write a status such as 503, a class such as 5xx, or failed", f.Status)
	}
	return f, nil
}

func validStatus(s string) bool {
	switch s {
	case "1xx", "2xx", "3xx", "4xx", "5xx", "failed":
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n < 600
}

// Match reports whether e passes the filter.
func (f *Filter) Match(e *Event) bool {
	switch {
	case f.Service != "" && e.Source != f.Service && e.Destination != f.Service && e.Source != anyService,
		f.Direction != "" && e.Direction != f.Direction,
		f.Protocol != "" && e.Protocol != f.Protocol,
		f.Method != "" && e.Method != f.Method:
		return false
	}
	if f.Path != "" {
		p := e.Path
		if e.Protocol == "grpc" {
			p = e.Method
		}
		if !strings.HasPrefix(p, f.Path) {
			return false
		}
	}
	return f.Status == "" || f.matchStatus(e)
}

func (f *Filter) matchStatus(e *Event) bool {
	switch f.Status {
	case "5xx", "failed":
		return e.Failed
	case "1xx", "2xx", "3xx", "4xx":
		if e.Protocol == "grpc" {
			// gRPC has no classes but OK and the failures above; its
			// other codes are the caller's errors, as 4xx are.
			switch f.Status {
			case "2xx":
				return e.Status == 0 && !e.Failed
			case "4xx":
				return e.Status != 0 && !e.Failed
			}
			return false
		}
		return e.Status/100 == int(f.Status[0]-'0')
	}
	n, _ := strconv.Atoi(f.Status)
	return e.Status == n
}
