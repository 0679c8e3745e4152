package policy

import (
	"errors"
	"strings"
	"testing"
)

func mustParse(t *testing.T, file, src string) *Policy {
	t.Helper()
	p, err := Parse(file, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckReload(t *testing.T) {
	base := "version: 1\nmesh:\n  name: shop\n  gossipKey: " + testKey + "\nadmin: {listen: \"127.0.0.1:9901\"}\nservices: {a: {timeout: 1s}}\n"
	old := mustParse(t, "old.yaml", base)
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"live changes only", strings.Replace(base, "timeout: 1s", "timeout: 2s", 1) + "egress: {allow: [x.com]}\n", nil},
		{"mesh name", strings.Replace(base, "name: shop", "name: shop2", 1),
			[]string{`new.yaml:3:9: mesh.name: changed from "shop" to "shop2", which requires a restart`}},
		{"gossip key", strings.Replace(base, testKey, b64([]byte("0123456789abcdef")), 1),
			[]string{"new.yaml:4:14: mesh.gossipKey: changed, which requires a restart"}},
		{"admin listen and mesh name", strings.Replace(strings.Replace(base, "9901", "9902", 1), "name: shop", "name: x", 1),
			[]string{`new.yaml:3:9: mesh.name: changed from "shop" to "x"`, `new.yaml:5:17: admin.listen: changed from "127.0.0.1:9901" to "127.0.0.1:9902"`}},
		{"admin listen removed", strings.Replace(base, "listen: \"127.0.0.1:9901\"", "", 1),
			[]string{`new.yaml:5:8: admin.listen: changed from "127.0.0.1:9901" to ""`}},
		{"whole mesh removed", "version: 1\nadmin: {listen: \"127.0.0.1:9901\"}\nservices: {a: {timeout: 1s}}\n",
			[]string{`new.yaml: mesh.name: changed from "shop" to "weft"`, "new.yaml: mesh.gossipKey: changed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckReload(old, mustParse(t, "new.yaml", tt.src))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckReload = %v, want nil", err)
				}
				return
			}
			var errs ErrorList
			if !errors.As(err, &errs) || len(errs) != len(tt.want) {
				t.Fatalf("CheckReload = %v, want %d errors", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want prefix %q", i, errs[i].Error(), w)
				}
			}
		})
	}
	if err := CheckReload(nil, old); err != nil {
		t.Errorf("CheckReload(nil, p) = %v", err)
	}
	if err := CheckReload(Default(), Default()); err != nil {
		t.Errorf("CheckReload(Default, Default) = %v", err)
	}
}
