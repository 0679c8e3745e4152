package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weftmesh/weft/security/devca"
)

func TestCAUsage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	tests := []struct {
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{[]string{"ca"}, exitUsage, "", "weft ca: no subcommand given\nUsage: weft ca init DIR --trust-domain T"},
		{[]string{"ca", "rotate"}, exitUsage, "", "weft ca: unknown subcommand \"rotate\"\n\nUsage: weft ca init"},
		{[]string{"ca", "help"}, exitOK, "Usage: weft ca init DIR --trust-domain T", ""},
		{[]string{"ca", "-h"}, exitOK, "Usage: weft ca init DIR --trust-domain T", ""},
		{[]string{"help", "ca"}, exitOK, "Usage: weft " + caCommand.name + " " + caArgs + "\n\n" + caSummary, ""},
		{[]string{"help"}, exitOK, "  ca         " + caSummary, ""},
		{[]string{"ca", "init"}, exitUsage, "", "weft ca init: no directory given"},
		{[]string{"ca", "init", "-h"}, exitOK, "Usage: weft ca init", ""},
		{[]string{"ca", "init", dir}, exitUsage, "", "weft ca init: --trust-domain is required"},
		{[]string{"ca", "init", dir, "--trust-domain", "Not A Domain"}, exitUsage, "", `weft ca init: bad trust domain "Not A Domain": `},
		{[]string{"ca", "init", "--trust-domain", "example.org", dir, "other"}, exitUsage, "", "weft ca init: one directory expected"},
		{[]string{"ca", "init", dir, "--bogus"}, exitUsage, "", "flag provided but not defined: -bogus"},
		{[]string{"ca", "init", dir, "--trust-domain"}, exitUsage, "", "flag needs an argument: -trust-domain"},
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
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a failed command created %s (stat: %v)", dir, err)
	}
}

func TestCAInit(t *testing.T) {
	for _, args := range [][]string{
		{"DIR", "--trust-domain", "example.org"},
		{"-trust-domain=spiffe://example.org", "DIR"},
	} {
		dir := filepath.Join(t.TempDir(), "dev-ca")
		for i := range args {
			args[i] = strings.ReplaceAll(args[i], "DIR", dir)
		}
		code, stdout, stderr := runWeft(append([]string{"ca", "init"}, args...)...)
		if code != exitOK || stderr != "" {
			t.Fatalf("weft ca init %q: exit %d, stderr %q", args, code, stderr)
		}
		for _, want := range []string{
			"Created a development CA for trust domain example.org:\n",
			filepath.Join(dir, "ca.crt") + "  root certificate",
			filepath.Join(dir, "ca.key") + "  private key",
			"\nmesh:\n  trustDomain: example.org\nsecurity:\n  identity:\n    dev:\n      ca: " + dir + "\n",
			"in production, use the SPIFFE Workload API",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
		ca, err := devca.Load(dir)
		if err != nil {
			t.Fatalf("the CA written does not load: %v", err)
		}
		if got := ca.TrustDomain().Name(); got != "example.org" {
			t.Errorf("trust domain %q, want example.org", got)
		}
	}
}

func TestCAInitRefusesExistingCA(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runWeft("ca", "init", dir, "--trust-domain", "example.org"); code != exitOK {
		t.Fatalf("first init: exit %d, stderr %q", code, stderr)
	}
	key, err := os.ReadFile(filepath.Join(dir, devca.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runWeft("ca", "init", dir, "--trust-domain", "other.org")
	if code != exitFailure || stdout != "" {
		t.Errorf("second init: exit %d, stdout %q; want %d and no output", code, stdout, exitFailure)
	}
	if want := "devca: init: " + filepath.Join(dir, devca.CertFile) + " already exists"; !strings.HasPrefix(stderr, want) {
		t.Errorf("stderr %q, want prefix %q", stderr, want)
	}
	if again, err := os.ReadFile(filepath.Join(dir, devca.KeyFile)); err != nil || string(again) != string(key) {
		t.Errorf("the CA key changed (read error %v)", err)
	}
}

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		flag string
	}{
		{nil, nil, ""},
		{[]string{"a", "-t", "v", "b"}, []string{"a", "b"}, "v"},
		{[]string{"-t=v", "a"}, []string{"a"}, "v"},
		{[]string{"a", "--t", "v", "--", "-b", "-t", "w"}, []string{"a", "-b", "-t", "w"}, "v"},
		{[]string{"--", "--"}, []string{"--"}, ""},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		v := fs.String("t", "", "")
		pos, err := parseInterspersed(fs, tc.args)
		if err != nil || !slices.Equal(pos, tc.pos) || *v != tc.flag {
			t.Errorf("parseInterspersed(%q) = %q, -t %q, %v; want %q, -t %q", tc.args, pos, *v, err, tc.pos, tc.flag)
		}
	}
}

func TestYAMLString(t *testing.T) {
	for in, want := range map[string]string{
		"/home/ana/weft-ca":     "/home/ana/weft-ca",
		"/srv/dev_ca.1":         "/srv/dev_ca.1",
		"/home/ana/my ca":       `"/home/ana/my ca"`,
		"/tmp/ca: #1":           `"/tmp/ca: #1"`,
		`C:\weft\ca`:            `"C:\\weft\\ca"`,
		"relative/ca":           `"relative/ca"`,
		"/tmp/caf\u00e9/\"x\"/": `"/tmp/café/\"x\"/"`,
	} {
		if got := yamlString(in); got != want {
			t.Errorf("yamlString(%q) = %s, want %s", in, got, want)
		}
	}
}
