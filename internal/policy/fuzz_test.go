package policy

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/full.yaml", "testdata/valid.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		// Truncated and corrupted variants of the real thing.
		f.Add(data[:len(data)/2])
		f.Add([]byte(strings.ReplaceAll(string(data), "  ", "\t")))
		f.Add([]byte(strings.ReplaceAll(string(data), ":", "")))
	}
	for _, s := range []string{
		"",
		"version: 1\n",
		"version: 1\n---\nversion: 1\n",
		"version: 1\nmesh: {name: shop, gossipKey: " + testKey + "}\n",
		"version: 1\nmesh: {gossipKey: \"file:testdata/valid.yaml\"}\n",
		"version: 1\nmesh: {gossipKey: \"env:HOME\"}\n",
		"version: 1\ndefaults: &d {timeout: 1s}\nservices: {a: *d, b: {<<: *d}}\n",
		"a: &a [*a, *a]\nb: &b [*a, *a]\nc: &c [*b, *b]\nversion: *c\n",
		"version: 1\nservices:\n  a: {timeout: 1s}\n  a: {timeout: [x]}\n",
		"version: 1\negress: {allow: [\"*.a.com\", \"b.com:1\", \"\", ~]}\n",
		"version: 1\nadmin: {listen: \"[::1]:9901\"}\n",
		"? [a, b]\n: {version: 1}\n",
		"version: 0x1\nmesh: {name: !!binary aGk=}\n",
		"version: 99999999999999999999999\n",
		"version: 1\nservices: {a: {loadBalancer: ring_hash, timeout: -0s}}\n",
		"%YAML 1.2\n---\nversion: 1\n...\n",
		"version: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
		"\ufeffversion: 1\n",
		"version: 1\nmesh: {name: \"\xff\xfe\"}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err == nil {
			if p == nil || p.Version != Version || len(p.Hash) != 64 || p.Mesh.Name == "" {
				t.Fatalf("valid policy is incomplete: %+v", p)
			}
			if k := len(p.Mesh.GossipKey); k != 0 && k != 16 && k != 24 && k != 32 {
				t.Fatalf("gossip key of %d bytes accepted", k)
			}
			for name, d := range p.Services {
				if dnsLabelProblem(name) != "" {
					t.Fatalf("service name %q accepted", name)
				}
				if d.Timeout < 0 {
					t.Fatalf("negative timeout accepted")
				}
			}
			_ = p.Destination("x")
			return
		}
		if p != nil {
			t.Fatal("policy returned along with an error")
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error %T is not a non-empty ErrorList: %v", err, err)
		}
		for _, e := range list {
			if e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 || e.Column < 0 {
				t.Fatalf("malformed error %+v", e)
			}
		}
		if !slices.IsSortedFunc(list, func(a, b *Error) int { return a.Line - b.Line }) {
			t.Fatalf("errors not sorted by line:\n%v", list)
		}
	})
}
