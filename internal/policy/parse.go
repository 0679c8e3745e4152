package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	yaml "go.yaml.in/yaml/v4"
	"go.yaml.in/yaml/v4/plugin/loaderlimits"
)

// MaxFileSize bounds the size of a policy file. Real policies are a few
// kilobytes; the limit keeps a wrong path (a log file, a disk image) from
// being read whole.
const MaxFileSize = 1 << 20

// maxDepth bounds YAML nesting. The deepest key of the schema is six levels
// down; the margin leaves room for future keys while keeping the parser's
// work on hostile input small.
const maxDepth = 32

// Parse decodes and validates the policy in data. file names it in errors
// and anchors file: references; it may be "". The returned error is an
// [ErrorList] holding every problem found.
func Parse(file string, data []byte) (*Policy, error) {
	d := &decoder{file: file, dir: filepath.Dir(file), positions: make(map[string]position)}
	if len(data) > MaxFileSize {
		d.errs = append(d.errs, &Error{File: file, Line: 1, Column: 1,
			Msg: fmt.Sprintf("policy file is %d bytes; the limit is %d bytes", len(data), MaxFileSize)})
		return nil, d.errs
	}
	root := d.parseYAML(data)
	if root == nil {
		return nil, d.sortedErrors()
	}
	p := &Policy{}
	d.decode(root, reflect.ValueOf(p).Elem(), "", "")
	if root.Kind == yaml.MappingNode {
		at, val := root, mappingValue(root, "version")
		if val != nil {
			at = val
		}
		if (val == nil || isNull(val)) && !d.recovered {
			d.errorAt(at, "version: missing; add `version: %d` at the top of the file", Version)
		}
	}
	// The checks across sections run even when a section has errors of
	// its own, so that one run reports everything; they skip what depends
	// on a value that could not be read.
	d.checkSecurity(p)
	d.checkAdmin(p)
	if len(d.errs) > 0 {
		return nil, d.sortedErrors()
	}
	if p.Mesh.Name == "" {
		p.Mesh.Name = DefaultMeshName
	}
	sum := sha256.Sum256(data)
	p.Source, p.Hash, p.positions = file, hex.EncodeToString(sum[:]), d.positions
	p.normalise()
	return p, nil
}

// maxErrors bounds how many errors one parse reports. A hand-written file
// never comes near it; a file that does (the wrong file, a generator gone
// astray) would otherwise flood logs that print one line per error.
const maxErrors = 100

// sortedErrors returns the errors found, in order and at most maxErrors
// of them plus one saying how many more there were.
func (d *decoder) sortedErrors() ErrorList {
	sortErrors(d.errs)
	d.errs = dedupe(d.errs)
	if len(d.errs) <= maxErrors {
		return d.errs
	}
	last := d.errs[maxErrors-1]
	more := &Error{File: d.file, Line: last.Line, Column: last.Column,
		Msg: fmt.Sprintf("too many errors; %d more not shown", len(d.errs)-(maxErrors-1))}
	return append(d.errs[:maxErrors-1:maxErrors-1], more)
}

// Load reads and parses the policy file at path. An I/O failure is returned
// wrapped (errors.Is(err, fs.ErrNotExist) works); an invalid policy gives an
// [ErrorList].
func Load(path string) (*Policy, error) {
	data, err := readPolicyFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: load: %w", err)
	}
	return Parse(path, data)
}

// readPolicyFile reads at most MaxFileSize+1 bytes, enough for Parse to
// tell that a file is too large.
func readPolicyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

// mappingValue returns the value of the first key named key in mapping n,
// or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// parseYAML parses data as exactly one YAML document and returns its root
// node, or nil after recording why it cannot.
func (d *decoder) parseYAML(data []byte) *yaml.Node {
	loader, err := yaml.NewLoader(bytes.NewReader(data),
		yaml.WithPlugin(loaderlimits.New(loaderlimits.DepthValue(maxDepth))))
	if err != nil {
		d.errs = append(d.errs, &Error{File: d.file, Msg: fmt.Sprintf("cannot set up the YAML parser: %v", err)})
		return nil
	}
	var doc yaml.Node
	switch err := loader.Load(&doc); {
	case errors.Is(err, io.EOF):
		d.emptyError()
		return nil
	case err != nil:
		d.syntaxError(err, data)
		return d.recoverTree(data, err)
	}
	var next yaml.Node
	switch err := loader.Load(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntaxError(err, data)
	default:
		d.errorAt(&next, "a policy file holds one YAML document; remove this second one (from the --- line on) or move it to its own file")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || isNull(doc.Content[0]) {
		d.emptyError()
		return nil
	}
	return doc.Content[0]
}

// maxRecoveries bounds how many times recoverTree blanks lines out.
const maxRecoveries = 20

// recoverTree parses data again with the lines of each syntax error
// blanked out, so that the rest of the file is checked in the same run.
// Only the first syntax errors are reported: those found after blanking
// lines may be caused by the blanking. It returns nil when nothing
// parses.
func (d *decoder) recoverTree(data []byte, err error) *yaml.Node {
	lines := bytes.Split(data, []byte("\n"))
	for range maxRecoveries {
		from, to := errorLines(err)
		if from < 1 || from > len(lines) {
			return nil
		}
		// Lines indented deeper than the first belong to the broken
		// construct: left alone, they would land under another key.
		depth := indentation(lines[from-1])
		for to < len(lines) && (len(bytes.TrimSpace(lines[to])) == 0 || indentation(lines[to]) > depth) {
			to++
		}
		for i := from; i <= min(to, len(lines)); i++ {
			lines[i-1] = nil
		}
		var doc yaml.Node
		loader, lerr := yaml.NewLoader(bytes.NewReader(bytes.Join(lines, []byte("\n"))),
			yaml.WithPlugin(loaderlimits.New(loaderlimits.DepthValue(maxDepth))))
		if lerr != nil {
			return nil
		}
		if err = loader.Load(&doc); err == nil {
			if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || isNull(doc.Content[0]) {
				return nil
			}
			d.recovered = true
			return doc.Content[0]
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
	return nil
}

// indentation counts the blanks a line starts with.
func indentation(line []byte) int {
	return len(line) - len(bytes.TrimLeft(line, " \t"))
}

// errorLines returns the lines a syntax error spans: from the construct
// it was parsing to where the parser gave up.
func errorLines(err error) (from, to int) {
	var list *yaml.LoadErrors
	if errors.As(err, &list) && len(list.Errors) > 0 {
		return errorLines(list.Errors[0])
	}
	var le *yaml.LoadError
	if !errors.As(err, &le) {
		return 0, 0
	}
	from, to = le.Mark.Line, le.Mark.Line
	if c := le.ContextMark.Line; c > 0 && c < from {
		// The parser gave up at the next token, which is often fine
		// (the next key after an unclosed bracket): blank from the
		// construct it was in to the line before.
		from, to = c, to-1
	}
	return from, to
}

func (d *decoder) emptyError() {
	d.errs = append(d.errs, &Error{File: d.file, Line: 1, Column: 1,
		Msg: fmt.Sprintf("policy is empty; it needs at least `version: %d`", Version)})
}

// syntaxError records a parser error at the position the parser gives.
func (d *decoder) syntaxError(err error, data []byte) {
	var list *yaml.LoadErrors
	if errors.As(err, &list) {
		for _, e := range list.Errors {
			d.syntaxError(e, data)
		}
		return
	}
	var le *yaml.LoadError
	if !errors.As(err, &le) {
		d.errs = append(d.errs, &Error{File: d.file, Msg: "YAML syntax error: " + err.Error()})
		return
	}
	msg := "YAML syntax error: " + le.Message
	if le.ContextMsg != "" {
		msg += " (" + le.ContextMsg
		if le.ContextMark.Line > 0 && le.ContextMark != le.Mark {
			msg += fmt.Sprintf(" at line %d, column %d", le.ContextMark.Line, max(le.ContextMark.Column, 1))
		}
		msg += ")"
	}
	if strings.Contains(le.Message, "tab character") || indentedWithTab(data, le.Mark.Line) {
		msg += "; indent with spaces, not tabs"
	}
	line, col := le.Mark.Line, le.Mark.Column
	if line > 0 && col <= 0 {
		col = 1
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Column: col, Msg: msg})
}

// indentedWithTab reports whether the 1-based line of data starts with
// whitespace that includes a tab, the usual cause of confusing YAML errors.
func indentedWithTab(data []byte, line int) bool {
	if line <= 0 {
		return false
	}
	for i := 1; i < line; i++ {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return false
		}
		data = data[nl+1:]
	}
	for _, c := range data {
		switch c {
		case '\t':
			return true
		case ' ':
		default:
			return false
		}
	}
	return false
}
