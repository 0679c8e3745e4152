package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weftmesh/weft/internal/leakcheck"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m)
}

// runWeft runs the command line and returns its exit code and output.
func runWeft(args ...string) (code int, stdout, stderr string) {
	var out, errOut strings.Builder
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writePolicy(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUsageAndHelp(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{nil, exitUsage, "", "Usage:"},
		{[]string{"frobnicate"}, exitUsage, "", `weft: unknown command "frobnicate"`},
		{[]string{"help"}, exitOK, "validate ", ""},
		{[]string{"-h"}, exitOK, "version ", ""},
		{[]string{"--help"}, exitOK, "Commands:", ""},
		{[]string{"help", "validate"}, exitOK, "Usage: weft validate FILE...", ""},
		{[]string{"help", "nope"}, exitUsage, "", `unknown command "nope"`},
		{[]string{"help", "a", "b"}, exitUsage, "", "usage: weft help [command]"},
		{[]string{"version"}, exitOK, "weft ", ""},
		{[]string{"version", "extra"}, exitUsage, "", "usage: weft version"},
		{[]string{"validate"}, exitUsage, "", "no policy file given"},
		{[]string{"validate", "-h"}, exitOK, "Usage: weft validate FILE...", ""},
		{[]string{"validate", "--bogus", "x.yaml"}, exitUsage, "", "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runWeft(tt.args...)
		if code != tt.code {
			t.Errorf("weft %q: exit %d, want %d (stderr %q)", tt.args, code, tt.code, stderr)
		}
		if tt.wantStdout != "" && !strings.Contains(stdout, tt.wantStdout) {
			t.Errorf("weft %q: stdout %q lacks %q", tt.args, stdout, tt.wantStdout)
		}
		if tt.wantStderr != "" && !strings.Contains(stderr, tt.wantStderr) {
			t.Errorf("weft %q: stderr %q lacks %q", tt.args, stderr, tt.wantStderr)
		}
		if tt.wantStdout == "" && stdout != "" {
			t.Errorf("weft %q: unexpected stdout %q", tt.args, stdout)
		}
	}
}

func TestValidateGoodFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("WEFT_TEST_GOSSIP_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	content := "version: 1\nmesh: {name: shop, gossipKey: \"env:WEFT_TEST_GOSSIP_KEY\"}\nservices:\n  a: {timeout: 1s}\n  b: {}\n  c: {}\n"
	three := writePolicy(t, dir, "mesh.yaml", content)
	one := writePolicy(t, dir, "one.yaml", "version: 1\nservices: {a: {}}\n")

	code, stdout, stderr := runWeft("validate", three, one)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	sum := sha256.Sum256([]byte(content))
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if want := three + `: ok (mesh "shop", 3 services, sha256 ` + hex.EncodeToString(sum[:])[:12] + ")"; lines[0] != want {
		t.Errorf("stdout line 1 = %q, want %q", lines[0], want)
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[1], one+`: ok (mesh "weft", 1 service, sha256 `) {
		t.Errorf("stdout = %q", stdout)
	}
}

func TestValidateBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := writePolicy(t, dir, "good.yaml", "version: 1\n")
	bad := writePolicy(t, dir, "bad.yaml", "version: 2\nservices:\n  a: {timeout: 5}\nsecurity: {mtls: bogus}\n")
	missing := filepath.Join(dir, "missing.yaml")

	code, stdout, stderr := runWeft("validate", bad, good, missing)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	if !strings.HasPrefix(stdout, good+": ok (") || strings.Count(stdout, "\n") != 1 {
		t.Errorf("stdout = %q, want only the good file's summary", stdout)
	}
	want := []string{
		bad + ":1:10: version: unsupported policy version 2",
		bad + ":3:16: services.a.timeout: expected a duration like 2s or 500ms, got the number 5",
		bad + ":4:18: security.mtls: \"bogus\" is not an mTLS mode",
		"policy: load: open " + missing + ": no such file or directory",
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(want), stderr)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("stderr line %d = %q, want prefix %q", i+1, lines[i], w)
		}
	}
}
