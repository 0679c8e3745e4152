package route

import "net/http"

// methodSet is a bit set of the standard HTTP methods; a request whose
// method is not standard has no bit and so matches no route that lists
// methods.
type methodSet uint16

// knownMethods lists the standard methods in the order used in messages.
var knownMethods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace,
}

// methodBit returns the bit of method, or 0 for a non-standard method. An
// empty method is GET, as in net/http.
func methodBit(method string) methodSet {
	switch method {
	case http.MethodGet, "":
		return 1 << 0
	case http.MethodHead:
		return 1 << 1
	case http.MethodPost:
		return 1 << 2
	case http.MethodPut:
		return 1 << 3
	case http.MethodPatch:
		return 1 << 4
	case http.MethodDelete:
		return 1 << 5
	case http.MethodOptions:
		return 1 << 6
	case http.MethodConnect:
		return 1 << 7
	case http.MethodTrace:
		return 1 << 8
	}
	return 0
}
