package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem found in a policy file, at a position in it.
type Error struct {
	// File is the policy file's name as given to [Parse] or [Load].
	File string
	// Line and Column are 1-based; a zero Line means the problem has no
	// single position (for example a key that was removed).
	Line, Column int
	// Msg says what is wrong and what to do about it.
	Msg string
}

// Error formats the problem as "file:line:col: msg", the form editors and
// CI logs link to. The position parts are left out when unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		col := max(e.Column, 1)
		fmt.Fprintf(&b, "%d:%d:", e.Line, col)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList holds every problem found in one policy file, sorted by
// position. [Parse] and [Load] return it as their error when the policy is
// invalid; use errors.As to get at the individual errors.
type ErrorList []*Error

// Error joins the errors, one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// sortErrors orders errors by position; errors without one come first, as
// they concern the file as a whole.
func sortErrors(l ErrorList) {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
		)
	})
}

// dedupe drops errors that repeat the one before (a check of a section
// and a check across sections can find the same problem), from a sorted
// list.
func dedupe(l ErrorList) ErrorList {
	return slices.CompactFunc(l, func(a, b *Error) bool { return *a == *b })
}
