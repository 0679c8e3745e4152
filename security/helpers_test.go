package security_test

import (
	"crypto/tls"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/weftmesh/weft/security/devca"
)

var (
	td       = spiffeid.RequireTrustDomainFromString("example.org")
	payments = spiffeid.RequireFromPath(td, "/svc/payments")
	orders   = spiffeid.RequireFromPath(td, "/svc/orders")
)

// source is a Source whose SVID and bundles a test sets.
type source struct {
	svid    atomic.Pointer[x509svid.SVID]
	bundles *x509bundle.Set
}

func newSource(svid *x509svid.SVID, bundles ...*x509bundle.Bundle) *source {
	s := &source{bundles: x509bundle.NewSet(bundles...)}
	s.svid.Store(svid)
	return s
}

func (s *source) GetX509SVID() (*x509svid.SVID, error) { return s.svid.Load(), nil }
func (s *source) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	return s.bundles.GetX509BundleForTrustDomain(td)
}
func (s *source) Close() error { return nil }

func newCA(t testing.TB, td spiffeid.TrustDomain) *devca.CA {
	t.Helper()
	ca, err := devca.New(td)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issue(t testing.TB, ca *devca.CA, id spiffeid.ID) *x509svid.SVID {
	t.Helper()
	svid, err := ca.Issue(id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return svid
}

// handshake runs one TLS handshake over loopback TCP between a server with
// cfg srv and a client with cfg cli, and returns both sides' errors and
// the server's view of the connection.
func handshake(t *testing.T, srv, cli *tls.Config) (serverErr, clientErr error, state tls.ConnectionState) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type result struct {
		err   error
		state tls.ConnectionState
	}
	done := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		tc := tls.Server(c, srv)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		err = tc.Handshake()
		if err == nil {
			// TLS 1.3 clients finish before the server has checked
			// their certificate: read so that the client learns of a
			// refusal.
			tc.Write([]byte("x"))
		}
		done <- result{err: err, state: tc.ConnectionState()}
	}()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", l.Addr().String(), cli)
	if err == nil {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		var b [1]byte
		_, err = c.Read(b[:])
		c.Close()
	}
	r := <-done
	return r.err, err, r.state
}

func wantErr(t *testing.T, side string, err error, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: handshake succeeded, want an error containing %q", side, contains)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("%s: error %q does not contain %q", side, err, contains)
	}
}
