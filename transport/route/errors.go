package route

import "strings"

// FieldError is one problem in a [Config], tied to the key it concerns.
type FieldError struct {
	// Key is the dotted path of the offending key, relative to the
	// service's section of the policy: "subsets.v1.labels",
	// "routes[1].to", "routes[0].fault.abort.status". The policy reader
	// prefixes it with "services.<name>." to position the message.
	Key string
	// Msg says what is wrong and what to write instead, without the key.
	Msg string
}

// Error returns "route: <Key>: <Msg>".
func (e *FieldError) Error() string { return "route: " + e.Key + ": " + e.Msg }

// FieldErrors is the error [Config.Validate] and [Compile] return: every
// problem found, subsets first in name order, then routes in order. Use
// errors.As to retrieve it; errors.As with a *FieldError yields the first.
type FieldErrors []*FieldError

// Error returns one line per problem.
func (es FieldErrors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the individual problems, for errors.Is and errors.As.
func (es FieldErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// asError returns es as an error, or nil when there is no problem, so that
// an empty FieldErrors never becomes a non-nil error.
func (es FieldErrors) asError() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
