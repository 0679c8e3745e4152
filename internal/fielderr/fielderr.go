package fielderr

import (
	"fmt"
	"strings"
)

// Error is one problem with one configuration key.
type Error struct {
	// Pkg is the name of the package that found the problem, printed
	// before the key when set ("retry"), or empty.
	Pkg string
	// Key is the dotted path of the offending key as written in the
	// policy, relative to the struct being validated or to its parent
	// mapping: "retries.attempts", "routes[1].to".
	Key string
	// Msg says what is wrong and what to write instead, without the key.
	Msg string
}

// Error returns "Pkg: Key: Msg", or "Key: Msg" when Pkg is empty.
func (e *Error) Error() string {
	if e.Pkg == "" {
		return e.Key + ": " + e.Msg
	}
	return e.Pkg + ": " + e.Key + ": " + e.Msg
}

// List collects the problems a Validate method finds, in the order found.
// The zero List is empty and ready to use.
type List []*Error

// Add appends a problem with key, its message formatted as by fmt.Sprintf.
func (l *List) Add(key, format string, args ...any) {
	*l = append(*l, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Prefix returns a copy of l with p and a dot put before every key, for
// problems found by a check that knows only its own part of the keys.
// l is left unchanged.
func (l List) Prefix(p string) List {
	return l.each(func(e *Error) { e.Key = p + "." + e.Key })
}

// From returns a copy of l whose problems name pkg as the package that
// found them. l is left unchanged.
func (l List) From(pkg string) List {
	return l.each(func(e *Error) { e.Pkg = pkg })
}

// each returns a copy of l with fn applied to copies of its problems.
func (l List) each(fn func(*Error)) List {
	if l == nil {
		return nil
	}
	out := make(List, len(l))
	for i, e := range l {
		c := *e
		fn(&c)
		out[i] = &c
	}
	return out
}

// Err returns l as an error, or nil when l is empty, so that an empty List
// never becomes a non-nil error.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Error returns the problems, one per line.
func (l List) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the problems, for errors.Is, errors.As and the policy
// reader.
func (l List) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}
