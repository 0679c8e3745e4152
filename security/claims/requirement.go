package claims

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/weftmesh/weft/internal/fielderr"
)

// Limits on what a condition may name, far above real claims.
const (
	maxNameLen  = 256
	maxValueLen = 1024
	maxValues   = 256
)

// Requirement is a compiled `claims` condition: every claim it names must
// hold one of the values listed for it. It is immutable and safe for
// concurrent use. A nil *Requirement places no condition.
type Requirement struct {
	conds []condition // sorted by name
}

type condition struct {
	name   string
	values []string
	scope  bool // on scope or scp: matched against Set.Scopes
}

// Compile validates m as [Validate] does (keys under "claims") and returns its Requirement, or
// nil for an empty m. It copies what it keeps.
func Compile(m map[string][]string) (*Requirement, error) {
	if err := Validate("claims", m).From("claims").Err(); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	r := &Requirement{conds: make([]condition, 0, len(m))}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		r.conds = append(r.conds, condition{name: name, values: slices.Clone(m[name]), scope: isScope(name)})
	}
	return r, nil
}

// Validate checks a `claims` condition found at key (such as
// "rules[0].claims") and returns its problems, each keyed by the claim it
// concerns ("rules[0].claims.plan", "rules[0].claims.groups[1]"): names
// must be non-empty and printable, each must list 1 to 256 non-empty
// values.
func Validate(key string, m map[string][]string) fielderr.List {
	var es fielderr.List
	for _, name := range slices.Sorted(maps.Keys(m)) {
		switch {
		case name == "":
			es.Add(key, "a claim name is empty; write the name of the claim, like sub or groups")
			continue
		case len(name) > maxNameLen:
			es.Add(key, "claim name %q is longer than %d bytes", truncate(name), maxNameLen)
			continue
		case !printable(name):
			es.Add(key, "claim name %q contains a control character", truncate(name))
			continue
		}
		vals, nkey := m[name], key+"."+name
		if len(vals) == 0 {
			es.Add(nkey, "lists no value; write the values the claim may hold, like [admins], or remove %s", name)
			continue
		}
		if len(vals) > maxValues {
			es.Add(nkey, "lists %d values; at most %d are allowed", len(vals), maxValues)
		}
		for i, v := range vals {
			vkey := fmt.Sprintf("%s[%d]", nkey, i)
			switch {
			case v == "":
				es.Add(vkey, "empty; a claim never holds the empty string here: write the value it must hold")
			case len(v) > maxValueLen:
				es.Add(vkey, "longer than %d bytes", maxValueLen)
			case !printable(v):
				es.Add(vkey, "%q contains a control character", truncate(v))
			case isScope(name) && strings.ContainsAny(v, " \t"):
				es.Add(vkey, "%q: a %s value is one scope, without spaces; list the scopes as separate values", truncate(v), name)
			}
		}
	}
	return es
}

// Match reports whether s satisfies r: every condition's claim holds one
// of its values. A condition on `scope` or `scp` is met by a scope in
// either claim ([Set.Scopes]). A nil r matches anything, a nil s (no
// verified token) only a nil r. Match does not allocate.
func (r *Requirement) Match(s *Set) bool {
	if r == nil {
		return true
	}
	if s == nil {
		return false
	}
	for i := range r.conds {
		c := &r.conds[i]
		held := s.values[c.name]
		if c.scope {
			held = s.scopes
		}
		found := false
		for _, v := range c.values {
			if slices.Contains(held, v) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Len returns the number of claims r names; 0 for a nil r.
func (r *Requirement) Len() int {
	if r == nil {
		return 0
	}
	return len(r.conds)
}

// String describes r for logs, as "name=v1|v2 name2=v3", names sorted.
func (r *Requirement) String() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	for i, c := range r.conds {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(c.name)
		b.WriteByte('=')
		b.WriteString(strings.Join(c.values, "|"))
	}
	return b.String()
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
