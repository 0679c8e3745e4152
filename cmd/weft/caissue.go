package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/security/devca"
)

// listFlag collects a repeatable flag; a value may also list several,
// comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

func runCAIssue(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ca issue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { caUsage(fs.Output()) }
	idFlag := fs.String("id", "", "the SPIFFE ID to issue for, such as spiffe://example.org/tools/grpcurl")
	service := fs.String("service", "", "the service to issue for, under the default ID template")
	out := fs.String("out", "", "write NAME.crt and NAME.key")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the certificate is valid")
	var dns, ips listFlag
	fs.Var(&dns, "dns", "a DNS name to add, for tools that check host names (repeatable)")
	fs.Var(&ips, "ip", "an IP address to add, for tools that check host names (repeatable)")
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			caUsage(stdout)
			return exitOK
		}
		return exitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "weft ca issue: "+format+"\n", a...)
		return exitUsage
	}
	switch {
	case len(dirs) != 1:
		return usage("want the CA directory, got %q", dirs)
	case (*idFlag == "") == (*service == ""):
		return usage("give one of --id spiffe://T/path or --service NAME")
	case *out == "":
		return usage("--out NAME is required: the certificate goes to NAME.crt, the key to NAME.key")
	case *ttl <= 0:
		return usage("--ttl %v: must be positive", *ttl)
	}
	var addrs []net.IP
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return usage("--ip %q is not an IP address", s)
		}
		addrs = append(addrs, ip)
	}
	for _, name := range dns {
		if strings.ContainsAny(name, " /:") {
			return usage("--dns %q is not a host name", name)
		}
	}
	ca, err := devca.Load(dirs[0])
	if err != nil {
		fmt.Fprintln(stderr, "weft ca issue:", err)
		return exitFailure
	}
	var id spiffeid.ID
	if *idFlag != "" {
		if id, err = spiffeid.FromString(*idFlag); err != nil {
			return usage("--id %q: %v", *idFlag, err)
		}
	} else {
		tmpl, err := security.ParseTemplate("", ca.TrustDomain())
		if err == nil {
			id, err = tmpl.ID(*service)
		}
		if err != nil {
			return usage("--service %q: %v", *service, err)
		}
	}
	if !id.MemberOf(ca.TrustDomain()) {
		return usage("%s is not in trust domain %s, the only one the CA in %s issues for", id, ca.TrustDomain().Name(), dirs[0])
	}
	svid, err := ca.IssueWithNames(id, *ttl, dns, addrs)
	if err != nil {
		fmt.Fprintln(stderr, "weft ca issue:", err)
		return exitFailure
	}
	certPath, keyPath := *out+".crt", *out+".key"
	if err := devca.WriteSVID(svid, certPath, keyPath); err != nil {
		fmt.Fprintln(stderr, "weft ca issue:", err)
		return exitFailure
	}
	names := ""
	if len(dns)+len(ips) > 0 {
		names = " and " + strings.Join(append(append([]string(nil), dns...), ips...), ", ")
	}
	fmt.Fprintf(stdout, `Issued a certificate for %s%s, valid until %s:
  %s  certificate
  %s  private key, readable by you only
  %s  the CA's root certificate, to verify Weft servers with

For example, against a strict-mTLS Weft gRPC server:
  grpcurl -cacert %s -cert %s -key %s HOST:PORT list
  grpc-health-probe -addr HOST:PORT -tls -tls-ca-cert %s -tls-client-cert %s -tls-client-key %s
(the server's certificate names only its SPIFFE ID unless it was issued with --dns or --ip:
add -insecure to grpcurl, -tls-no-verify to grpc-health-probe, or give the server such a certificate)
`, id, names, svid.Certificates[0].NotAfter.UTC().Format(time.RFC3339),
		certPath, keyPath, caCertPath(dirs[0]),
		caCertPath(dirs[0]), certPath, keyPath, caCertPath(dirs[0]), certPath, keyPath)
	return exitOK
}

func caCertPath(dir string) string { return strings.TrimSuffix(dir, "/") + "/" + devca.CertFile }
