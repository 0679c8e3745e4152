package policy

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v4"
)

// decoder turns a YAML node tree into Go values by following the `yaml`
// tags of the target structs. Unlike yaml.Node.Decode it keeps going after
// a problem, so that one run reports every error in the file, each at the
// position of the node it concerns.
//
// Each value is visited with two dotted paths: path names it concretely for
// messages ("services.payments.timeout"), pattern names it for the schema
// tables in schema.go, with map keys written "*" and list elements "[]"
// ("services.*.timeout").
type decoder struct {
	file      string
	dir       string // relative file: references in the policy start here
	errs      ErrorList
	positions map[string]position
	// recovered reports that the tree was parsed from the file with the
	// lines of its syntax errors blanked out: keys may be missing that
	// the file has, so nothing is reported as missing.
	recovered bool
}

var durationType = reflect.TypeFor[time.Duration]()

func (d *decoder) errorAt(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// decode stores the value of n in v, which must be settable.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path, pattern string) {
	if n.Kind == yaml.AliasNode {
		d.errorAt(n, "%s: aliases (*%s) are not supported in a policy; write the value out in full", name(path), n.Value)
		return
	}
	if hook := valueHooks[pattern]; hook != nil {
		if msg := hook(d, n, v); msg != "" {
			d.errorAt(n, "%s: %s", name(path), msg)
		}
		return
	}
	if isNull(n) {
		return // absent and null both mean "use the default"
	}
	if v.Kind() == reflect.Pointer {
		// A pointer field is an optional section: nil when absent.
		elem := reflect.New(v.Type().Elem())
		d.decode(n, elem.Elem(), path, pattern)
		v.Set(elem)
		return
	}
	var ok bool
	switch {
	case v.Type() == durationType:
		ok = d.decodeDuration(n, v, path)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		ok = d.decodeBytes(n, v, path)
	case v.Kind() == reflect.Struct:
		ok = d.decodeStruct(n, v, path, pattern)
	case v.Kind() == reflect.Map:
		ok = d.decodeMap(n, v, path, pattern)
	case v.Kind() == reflect.Slice:
		ok = d.decodeSlice(n, v, path, pattern)
	default:
		ok = d.decodeScalar(n, v, path)
	}
	if !ok {
		return
	}
	if check := valueChecks[pattern]; check != nil {
		if msg := check(v); msg != "" {
			d.errorAt(n, "%s: %s", name(path), msg)
		}
	}
	if v.Kind() == reflect.Struct && v.CanAddr() {
		if val, isValidator := v.Addr().Interface().(validator); isValidator {
			d.validate(n, val, path)
		}
	}
}

// validator is implemented by the config structs of the mechanism packages,
// which know their own rules. Validate returns nil, or one error per
// problem (joined with errors.Join), each starting with the dotted key it
// concerns, relative to the struct: "attempts: must be at least 1".
type validator interface {
	Validate() error
}

// validate runs a struct's own checks and positions each problem at the
// key it names, or at the struct when the key is not in the file.
//
// The mechanism packages word their messages "[pkg: ]key: problem", with
// key relative to the struct or to its parent ("retries.attempts"); the
// key is found among the decoded positions and the message rewritten with
// the key's full path.
func (d *decoder) validate(n *yaml.Node, val validator, path string) {
	err := val.Validate()
	if err == nil {
		return
	}
	errs := flatten(err)
	parent := path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		parent = path[:i]
	} else {
		parent = ""
	}
	for _, e := range errs {
		d.positioned(n, path, parent, e.Error())
	}
}

// flatten lists the single problems inside err, unwrapping joined errors
// at every level.
func flatten(err error) []error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}

func (d *decoder) positioned(n *yaml.Node, path, parent, msg string) {
	parts := strings.SplitN(msg, ": ", 3)
	for i := 0; i < len(parts)-1 && i < 2; i++ {
		for _, full := range []string{join(path, parts[i]), join(parent, parts[i])} {
			if pos, ok := d.positions[full]; ok {
				rest := strings.Join(parts[i+1:], ": ")
				d.errs = append(d.errs, &Error{File: d.file, Line: pos.line, Column: pos.column, Msg: full + ": " + rest})
				return
			}
		}
	}
	// A key inside a list ("issuers[0].audiences") that the file leaves
	// out, as a required key is: named in full, placed at the nearest
	// part of it the file has.
	for i := 0; i < len(parts)-1 && i < 2; i++ {
		if !strings.Contains(parts[i], "[") {
			continue
		}
		full := join(path, parts[i])
		for at := parentKey(full); len(at) > len(path); at = parentKey(at) {
			if pos, ok := d.positions[at]; ok {
				rest := strings.Join(parts[i+1:], ": ")
				d.errs = append(d.errs, &Error{File: d.file, Line: pos.line, Column: pos.column, Msg: full + ": " + rest})
				return
			}
		}
	}
	d.errorAt(n, "%s: %s", name(path), msg)
}

// parentKey returns a dotted key without its last part, a field or an
// index: "a.b[0].c" gives "a.b[0]", which gives "a.b".
func parentKey(key string) string {
	if strings.HasSuffix(key, "]") {
		if i := strings.LastIndexByte(key, '['); i > 0 {
			return key[:i]
		}
	}
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[:i]
	}
	return ""
}

// decodeStruct decodes a mapping into the struct's yaml-tagged fields. A key
// that is not a field is either planned (recognised, not implemented yet) or
// unknown; both are errors.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path, pattern string) bool {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, path, "a mapping of keys to values")
		return false
	}
	fields := structFields(v.Type())
	d.eachPair(n, path, func(key string, k, val *yaml.Node) {
		childPath, childPattern := join(path, key), join(pattern, key)
		idx, found := fields.index[key]
		switch {
		case found:
			d.positions[childPath] = position{val.Line, val.Column}
			d.decode(val, v.FieldByIndex(idx), childPath, childPattern)
		default:
			// The struct is still checked: its known keys decoded, so
			// its own rules report their problems in the same run.
			d.errorAt(k, "%s", unknownKeyMessage(key, path, pattern, fields.names))
		}
	})
	return true
}

// decodeMap decodes a mapping into a map with string keys.
func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path, pattern string) bool {
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.errorAt(n, "%s: internal error: cannot decode into %s", name(path), t)
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.typeError(n, path, "a mapping of names to values")
		return false
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(n.Content)/2))
	}
	childPattern := join(pattern, "*")
	d.eachPair(n, path, func(key string, k, val *yaml.Node) {
		childPath := join(path, key)
		if check := keyChecks[pattern]; check != nil {
			if msg := check(key); msg != "" {
				d.errorAt(k, "%s: %s", childPath, msg)
			}
		}
		d.positions[childPath] = position{val.Line, val.Column}
		elem := reflect.New(t.Elem()).Elem()
		d.decode(val, elem, childPath, childPattern)
		v.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), elem)
	})
	return true
}

// eachPair calls fn for each key of mapping n whose key is a plain scalar
// seen for the first time, reporting the others.
func (d *decoder) eachPair(n *yaml.Node, path string, fn func(key string, k, val *yaml.Node)) {
	first := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind == yaml.AliasNode:
			d.errorAt(k, "%s: aliases (*%s) are not supported in a policy; write the key out in full", name(path), k.Value)
			continue
		case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
			d.errorAt(k, "%s: merge keys (<<) are not supported in a policy; write the keys out in full", name(path))
			continue
		case k.Kind != yaml.ScalarNode:
			d.errorAt(k, "%s: keys must be plain names, got %s", name(path), describe(k))
			continue
		}
		if prev, dup := first[k.Value]; dup {
			d.errorAt(k, "%s: duplicate key %q; it was first set at line %d, column %d; remove one of them",
				name(path), k.Value, prev.Line, prev.Column)
			continue
		}
		first[k.Value] = k
		fn(k.Value, k, val)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path, pattern string) bool {
	if n.Kind != yaml.SequenceNode {
		d.typeError(n, path, "a list")
		return false
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, el := range n.Content {
		elPath := fmt.Sprintf("%s[%d]", path, i)
		d.positions[elPath] = position{el.Line, el.Column}
		d.decode(el, s.Index(i), elPath, pattern+"[]")
	}
	v.Set(s)
	return true
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) bool {
	const want = "a duration like 2s or 500ms"
	if n.Kind != yaml.ScalarNode {
		d.typeError(n, path, want)
		return false
	}
	switch n.ShortTag() {
	case "!!str":
	case "!!int", "!!float":
		d.errorAt(n, "%s: expected %s, got the number %s; add a unit, for example %ss", name(path), want, n.Value, n.Value)
		return false
	default:
		d.typeError(n, path, want)
		return false
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errorAt(n, "%s: %q is not a duration; write a number with a unit (ns, us, ms, s, m, h), like 2s or 500ms", name(path), truncate(n.Value))
		return false
	}
	v.SetInt(int64(dur))
	return true
}

func (d *decoder) decodeBytes(n *yaml.Node, v reflect.Value, path string) bool {
	if !isString(n) {
		d.typeError(n, path, "a base64 string")
		return false
	}
	b, err := base64.StdEncoding.DecodeString(n.Value)
	if err != nil {
		d.errorAt(n, "%s: not valid base64", name(path))
		return false
	}
	v.SetBytes(b)
	return true
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) bool {
	switch v.Kind() {
	case reflect.String:
		if !isString(n) {
			if n.Kind == yaml.ScalarNode && n.Style == 0 {
				d.errorAt(n, "%s: expected a string, got %s; put it in quotes if it is meant as text", name(path), describe(n))
			} else {
				d.typeError(n, path, "a string")
			}
			return false
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || err != nil {
			d.typeError(n, path, "true or false")
			return false
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.typeError(n, path, "a whole number")
			return false
		}
		if v.OverflowInt(i) {
			d.errorAt(n, "%s: %s is out of range", name(path), n.Value)
			return false
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&u) != nil {
			d.typeError(n, path, "a whole number, zero or more")
			return false
		}
		if v.OverflowUint(u) {
			d.errorAt(n, "%s: %s is out of range", name(path), n.Value)
			return false
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		var f float64
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || (tag != "!!float" && tag != "!!int") || n.Decode(&f) != nil {
			d.typeError(n, path, "a number")
			return false
		}
		if v.OverflowFloat(f) {
			d.errorAt(n, "%s: %s is out of range", name(path), n.Value)
			return false
		}
		v.SetFloat(f)
	default:
		d.errorAt(n, "%s: internal error: cannot decode into %s", name(path), v.Type())
		return false
	}
	return true
}

func (d *decoder) typeError(n *yaml.Node, path, want string) {
	d.errorAt(n, "%s: expected %s, got %s", name(path), want, describe(n))
}

// fieldSet lists a struct type's yaml-tagged fields, those of embedded
// structs tagged `yaml:",inline"` included.
type fieldSet struct {
	index map[string][]int // yaml name to field index path
	names []string         // yaml names in declaration order
}

func structFields(t reflect.Type) fieldSet {
	fs := fieldSet{index: make(map[string][]int, t.NumField())}
	fs.add(t, nil)
	return fs
}

func (fs *fieldSet) add(t reflect.Type, prefix []int) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		idx := append(append([]int(nil), prefix...), i)
		if f.Anonymous && opts == "inline" && f.Type.Kind() == reflect.Struct {
			fs.add(f.Type, idx)
			continue
		}
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		fs.index[tag] = idx
		fs.names = append(fs.names, tag)
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func isString(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str"
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case "!!str":
			return fmt.Sprintf("the string %q", truncate(n.Value))
		case "!!int", "!!float":
			return "the number " + truncate(n.Value)
		case "!!bool":
			return "the boolean " + truncate(n.Value)
		case "!!null":
			return "nothing"
		default:
			return fmt.Sprintf("a value tagged %s", truncate(tag))
		}
	}
	return "a YAML document"
}

// truncate shortens s for quoting in a message.
func truncate(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "…"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// name is how a message refers to the value at path.
func name(path string) string {
	if path == "" {
		return "policy"
	}
	return path
}
