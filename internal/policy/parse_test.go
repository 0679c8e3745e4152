package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/engine"
)

func TestParseValid(t *testing.T) {
	t.Setenv("WEFT_GOSSIP_KEY", testKey)
	data, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("testdata/valid.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 1 || p.Mesh.Name != "shop" {
		t.Errorf("version, mesh = %d, %+v", p.Version, p.Mesh)
	}
	if string(p.Mesh.GossipKey) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("gossip key = %q", p.Mesh.GossipKey)
	}
	if p.Admin.Listen != "127.0.0.1:9901" {
		t.Errorf("admin.listen = %q", p.Admin.Listen)
	}
	if want := []string{"api.example.com", "*.googleapis.com"}; !reflect.DeepEqual(p.Egress.Allow, want) {
		t.Errorf("egress.allow = %q, want %q", p.Egress.Allow, want)
	}
	if want := (engine.DestinationConfig{LoadBalancer: "least_request", Timeout: 5 * time.Second}); !reflect.DeepEqual(p.Defaults, want) {
		t.Errorf("defaults = %+v, want %+v", p.Defaults, want)
	}
	wantServices := map[string]engine.DestinationConfig{
		"payments": {LoadBalancer: "round_robin", Timeout: 2 * time.Second},
		"checkout": {Timeout: 1500 * time.Millisecond},
		"catalog":  {},
	}
	got := make(map[string]engine.DestinationConfig)
	for name, svc := range p.Services {
		got[name] = svc.DestinationConfig
	}
	if !reflect.DeepEqual(got, wantServices) {
		t.Errorf("services = %+v, want %+v", got, wantServices)
	}
	sum := sha256.Sum256(data)
	if p.Source != "testdata/valid.yaml" || p.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("source, hash = %q, %q", p.Source, p.Hash)
	}
	if p.ShortHash() != p.Hash[:12] {
		t.Errorf("ShortHash() = %q", p.ShortHash())
	}
}

func TestParseMinimal(t *testing.T) {
	p, err := Parse("", []byte("version: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	if p.Mesh.Name != DefaultMeshName || p.Mesh.GossipKey != nil || p.Admin.Listen != "" || p.Egress.Allow != nil || p.Services != nil {
		t.Errorf("minimal policy = %+v", p)
	}
	if got := p.Destination("any"); got != def.Defaults {
		t.Errorf("Destination = %+v, want built-in %+v", got, def.Defaults)
	}
}

func TestParseNullsMeanDefaults(t *testing.T) {
	p, err := Parse("", []byte("version: 1\nmesh:\nadmin: ~\negress: {allow: null}\ndefaults:\n  timeout:\nservices:\n  a:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Egress.Allow != nil || p.Defaults.Timeout != 0 {
		t.Errorf("policy = %+v", p)
	}
	if _, ok := p.Services["a"]; !ok {
		t.Errorf("service a declared with no settings is missing: %+v", p.Services)
	}
}

func TestParseEmptyEgressListForbidsAll(t *testing.T) {
	p, err := Parse("", []byte("version: 1\negress: {allow: []}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Egress.Allow == nil || len(p.Egress.Allow) != 0 {
		t.Errorf("allow = %#v, want an empty non-nil list", p.Egress.Allow)
	}
}

func TestParseNoFileName(t *testing.T) {
	_, err := Parse("", []byte("version: 2\n"))
	if err == nil || err.Error() != "1:10: version: unsupported policy version 2; this version of Weft reads version 1, so write `version: 1`" {
		t.Errorf("err = %v", err)
	}
}

func TestGossipKeyLiteralLengths(t *testing.T) {
	for _, n := range []int{16, 24, 32} {
		key := bytes.Repeat([]byte{byte(n)}, n)
		src := "version: 1\nmesh: {gossipKey: " + b64(key) + "}\n"
		p, err := Parse("", []byte(src))
		if err != nil {
			t.Fatalf("%d-byte key: %v", n, err)
		}
		if !bytes.Equal(p.Mesh.GossipKey, key) {
			t.Errorf("%d-byte key decoded to %x", n, p.Mesh.GossipKey)
		}
	}
}

func TestGossipKeyFromEnv(t *testing.T) {
	t.Setenv("WEFT_TEST_KEY", " "+testKey+"\n")
	p, err := Parse("", []byte("version: 1\nmesh: {gossipKey: \"env:WEFT_TEST_KEY\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Mesh.GossipKey) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("key = %q", p.Mesh.GossipKey)
	}
	t.Setenv("WEFT_TEST_KEY", "c2hvcnQ=")
	errs := parseErrors(t, "version: 1\nmesh: {gossipKey: \"env:WEFT_TEST_KEY\"}\n")
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "environment variable WEFT_TEST_KEY decodes to 5 bytes") {
		t.Errorf("errors = %v", errs)
	}
	if strings.Contains(errs.Error(), "c2hvcnQ") {
		t.Errorf("error reveals the key: %v", errs)
	}
}

func TestGossipKeyFromFileRelativeToPolicy(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "secrets"), "gossip.key", testKey+"\n")
	path := writeFile(t, dir, "mesh.yaml", "version: 1\nmesh: {gossipKey: \"file:secrets/gossip.key\"}\n")
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Mesh.GossipKey) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("key = %q", p.Mesh.GossipKey)
	}

	abs := writeFile(t, dir, "abs.yaml", "version: 1\nmesh: {gossipKey: \"file:"+filepath.Join(dir, "secrets", "gossip.key")+"\"}\n")
	if _, err := Load(abs); err != nil {
		t.Errorf("absolute key path: %v", err)
	}

	writeFile(t, dir, "big.key", strings.Repeat("A", maxKeyFileSize+1))
	bad := writeFile(t, dir, "bad.yaml", "version: 1\nmesh:\n  gossipKey: file:missing.key\n  name: x\n---\n")
	_, err = Load(bad)
	var errs ErrorList
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("err = %v", err)
	}
	if want := bad + ":3:14: mesh.gossipKey: cannot read key file: stat " + filepath.Join(dir, "missing.key"); !strings.HasPrefix(errs[0].Error(), want) {
		t.Errorf("error = %q, want prefix %q", errs[0].Error(), want)
	}
	big := writeFile(t, dir, "big.yaml", "version: 1\nmesh: {gossipKey: \"file:big.key\"}\n")
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "is larger than 4096 bytes") {
		t.Errorf("large key file: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if !strings.HasPrefix(err.Error(), "policy: load: ") {
		t.Errorf("err = %q, want the package prefix", err)
	}
}

func TestLoadTooLarge(t *testing.T) {
	path := writeFile(t, t.TempDir(), "big.yaml", "version: 1\n#"+strings.Repeat("x", MaxFileSize))
	_, err := Load(path)
	var errs ErrorList
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Msg, "the limit is") {
		t.Fatalf("err = %v", err)
	}
}

func TestDefault(t *testing.T) {
	p := Default()
	if p.Version != 1 || p.Mesh.Name != "weft" || p.Mesh.GossipKey != nil || p.Admin.Listen != "" || p.Source != "" || p.Hash != "" {
		t.Errorf("Default() = %+v", p)
	}
	if want := (engine.DestinationConfig{LoadBalancer: "least_request", Timeout: 5 * time.Second}); !reflect.DeepEqual(p.Defaults, want) {
		t.Errorf("Default().Defaults = %+v", p.Defaults)
	}
	if Default() == p {
		t.Error("Default returns a shared value")
	}
}

func TestDestination(t *testing.T) {
	p, err := Parse("", []byte(`version: 1
defaults: {loadBalancer: round_robin}
services:
  a: {timeout: 2s}
  b: {loadBalancer: least_request, timeout: 3s}
  c: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		service string
		want    engine.DestinationConfig
	}{
		{"a", engine.DestinationConfig{LoadBalancer: "round_robin", Timeout: 2 * time.Second}},
		{"b", engine.DestinationConfig{LoadBalancer: "least_request", Timeout: 3 * time.Second}},
		{"c", engine.DestinationConfig{LoadBalancer: "round_robin", Timeout: 5 * time.Second}},
		{"unknown", engine.DestinationConfig{LoadBalancer: "round_robin", Timeout: 5 * time.Second}},
	}
	for _, tt := range tests {
		if got := p.Destination(tt.service); got != tt.want {
			t.Errorf("Destination(%q) = %+v, want %+v", tt.service, got, tt.want)
		}
	}
	if p.Services["a"].LoadBalancer != "" {
		t.Error("Destination modified the policy")
	}
	var nilPolicy *Policy
	if got := nilPolicy.Destination("a"); got != Default().Defaults {
		t.Errorf("nil policy Destination = %+v", got)
	}
	if nilPolicy.ShortHash() != "" {
		t.Error("nil policy ShortHash not empty")
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
