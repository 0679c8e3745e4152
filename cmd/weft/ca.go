package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/security/devca"
)

const (
	caArgs    = "init DIR --trust-domain T | issue DIR (--id ID | --service S) --out NAME [--dns H]... [--ip A]..."
	caSummary = "create a development certificate authority, for mTLS without SPIRE, and issue certificates from it"
)

var caCommand = command{name: "ca", args: caArgs, summary: caSummary, run: runCA}

func caUsage(w io.Writer) {
	fmt.Fprintf(w, `Usage: weft ca %s

init: create a development certificate authority for trust domain T in
DIR: DIR/%s (its root certificate) and DIR/%s (its key). Nodes whose
policy names DIR under security.identity.dev issue their own SPIFFE
identities from it. It is for development only: in production,
identities come from the SPIFFE Workload API (SPIRE).

issue: issue a certificate and key from the CA in DIR, for a SPIFFE ID
(--id spiffe://T/...) or a service (--service S, whose ID the default
template makes: spiffe://T/svc/S), into NAME.crt and NAME.key. It serves
as a client certificate (grpcurl -cert, grpc-health-probe -tls-client-cert)
and as a server certificate (security.identity.files); --dns and --ip add
host names that tools which check them verify. Flags: --ttl (default 24h).

Exits 0 on success, 1 if the CA cannot be read or written or DIR already
holds one, 2 on a usage error.
`, caArgs, devca.CertFile, devca.KeyFile)
}

// runCA dispatches to the ca subcommands.
func runCA(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "weft ca: no subcommand given")
		caUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "init":
		return runCAInit(args[1:], stdout, stderr)
	case "issue":
		return runCAIssue(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		caUsage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "weft ca: unknown subcommand %q\n\n", args[0])
	caUsage(stderr)
	return exitUsage
}

func runCAInit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ca init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { caUsage(fs.Output()) }
	trustDomain := fs.String("trust-domain", "", "the trust domain of the identities the CA issues, such as example.org")
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			caUsage(stdout)
			return exitOK
		}
		return exitUsage
	}
	switch {
	case len(dirs) == 0:
		fmt.Fprintln(stderr, "weft ca init: no directory given")
		caUsage(stderr)
		return exitUsage
	case len(dirs) > 1:
		fmt.Fprintf(stderr, "weft ca init: one directory expected, got %q\n", dirs)
		return exitUsage
	case *trustDomain == "":
		fmt.Fprintln(stderr, "weft ca init: --trust-domain is required, for example --trust-domain example.org")
		return exitUsage
	}
	td, err := spiffeid.TrustDomainFromString(*trustDomain)
	if err != nil {
		fmt.Fprintf(stderr, "weft ca init: bad trust domain %q: %v; use a DNS-like name such as example.org\n", *trustDomain, err)
		return exitUsage
	}
	dir := dirs[0]
	if _, err := devca.Init(dir, td); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	// The policy may be read from another working directory.
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	fmt.Fprintf(stdout, `Created a development CA for trust domain %s:
  %s  root certificate, the trust bundle
  %s  private key, readable by you only: keep it secret

To give nodes identities from it, add to their policy:

mesh:
  trustDomain: %s
security:
  identity:
    dev:
      ca: %s

For development only: in production, use the SPIFFE Workload API (SPIRE).
`, td.Name(), filepath.Join(dir, devca.CertFile), filepath.Join(dir, devca.KeyFile), td.Name(), yamlString(abs))
	return exitOK
}

// parseInterspersed parses flags placed before, between or after the
// positional arguments, which it returns; the flag package alone stops at
// the first positional one. Everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// yamlString returns path as a YAML scalar: plain when it is an absolute
// path of safe characters, otherwise double-quoted (Go's escapes are valid
// in YAML double-quoted strings).
func yamlString(path string) string {
	plain := strings.HasPrefix(path, "/")
	for _, r := range path {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-", r)) {
			plain = false
			break
		}
	}
	if plain {
		return path
	}
	return strconv.Quote(path)
}
