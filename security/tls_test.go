package security_test

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/security"
)

func TestMutualTLS(t *testing.T) {
	ca := newCA(t, td)
	srv := newSource(issue(t, ca, payments), ca.Bundle())
	cli := newSource(issue(t, ca, orders), ca.Bundle())

	serr, cerr, state := handshake(t, security.ServerTLS(srv), security.ClientTLS(cli, payments))
	if serr != nil || cerr != nil {
		t.Fatalf("handshake: server %v, client %v", serr, cerr)
	}
	if id, ok := security.PeerID(&state); !ok || id != orders {
		t.Fatalf("server sees peer %v (%v), want %v", id, ok, orders)
	}
	if state.Version != tls.VersionTLS13 {
		t.Errorf("TLS version %x, want 1.3", state.Version)
	}
}

func TestClientRefusesTheWrongServer(t *testing.T) {
	ca := newCA(t, td)
	impostor := newSource(issue(t, ca, orders), ca.Bundle()) // a genuine SVID, of another service
	cli := newSource(issue(t, ca, orders), ca.Bundle())
	_, cerr, _ := handshake(t, security.ServerTLS(impostor), security.ClientTLS(cli, payments))
	wantErr(t, "client", cerr, "server presented spiffe://example.org/svc/orders, want spiffe://example.org/svc/payments")
	if !errors.Is(cerr, security.ErrWrongPeer) {
		t.Errorf("error %v is not ErrWrongPeer", cerr)
	}
}

func TestServerRefusesBadClients(t *testing.T) {
	ca := newCA(t, td)
	srv := newSource(issue(t, ca, payments), ca.Bundle())
	other := spiffeid.RequireTrustDomainFromString("other.org")
	otherCA := newCA(t, other)
	rogueCA := newCA(t, td) // same trust domain name, a CA nobody trusts
	now := time.Now()
	expired, err := ca.IssueValidity(orders, now.Add(-2*time.Hour), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	future, err := ca.IssueValidity(orders, now.Add(time.Hour), now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		client *tls.Config
		want   string
	}{
		{"another trust domain", security.ClientTLS(newSource(issue(t, otherCA, spiffeid.RequireFromPath(other, "/svc/orders")), otherCA.Bundle(), ca.Bundle()), payments), `no X.509 bundle for trust domain "other.org"`},
		{"an untrusted CA", security.ClientTLS(newSource(issue(t, rogueCA, orders), ca.Bundle()), payments), "certificate signed by unknown authority"},
		{"an expired certificate", security.ClientTLS(newSource(expired, ca.Bundle()), payments), "expired or is not yet valid"},
		{"a certificate not yet valid", security.ClientTLS(newSource(future, ca.Bundle()), payments), "expired or is not yet valid"},
		{"no certificate", &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serr, cerr, _ := handshake(t, security.ServerTLS(srv), tc.client)
			wantErr(t, "server", serr, tc.want)
			if cerr == nil {
				t.Error("client: handshake succeeded")
			}
		})
	}
}

func TestServerRefusesOldTLS(t *testing.T) {
	ca := newCA(t, td)
	srv := newSource(issue(t, ca, payments), ca.Bundle())
	serr, _, _ := handshake(t, security.ServerTLS(srv), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	wantErr(t, "server", serr, "unsupported versions")
}

// A resumed TLS session skips VerifyPeerCertificate; the identity check
// is in VerifyConnection, which resumption does not skip.
func TestResumptionCannotSkipTheIdentityCheck(t *testing.T) {
	ca := newCA(t, td)
	srvSource := newSource(issue(t, ca, payments), ca.Bundle())
	cliSource := newSource(issue(t, ca, orders), ca.Bundle())
	// A server that issues session tickets, unlike ServerTLS.
	srv := security.ServerTLS(srvSource).Clone()
	srv.SessionTicketsDisabled = false
	cache := tls.NewLRUClientSessionCache(8)
	withCache := func(c *tls.Config) *tls.Config { c = c.Clone(); c.ClientSessionCache = cache; return c }

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, srv)
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if tc.Handshake() == nil {
					tc.Write([]byte("x")) // carries the session ticket
					var b [1]byte
					tc.Read(b[:])
				}
			}()
		}
	}()
	dial := func(cfg *tls.Config) (tls.ConnectionState, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", l.Addr().String(), cfg)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil {
			return tls.ConnectionState{}, err
		}
		return c.ConnectionState(), nil
	}
	if _, err := dial(withCache(security.ClientTLS(cliSource, payments))); err != nil {
		t.Fatalf("first connection: %v", err)
	}
	st, err := dial(withCache(security.ClientTLS(cliSource, payments)))
	if err != nil {
		t.Fatalf("second connection: %v", err)
	}
	if !st.DidResume {
		t.Fatal("the second connection did not resume: the test proves nothing")
	}
	// The same cached session, offered by a client that expects another
	// service at that address, must not resume past the check.
	_, err = dial(withCache(security.ClientTLS(cliSource, spiffeid.RequireFromPath(td, "/svc/inventory"))))
	if !errors.Is(err, security.ErrWrongPeer) {
		t.Fatalf("resumed connection to the wrong service: err = %v, want ErrWrongPeer", err)
	}
}

func TestServerTLSDisablesSessionTickets(t *testing.T) {
	ca := newCA(t, td)
	if !security.ServerTLS(newSource(issue(t, ca, payments), ca.Bundle())).SessionTicketsDisabled {
		t.Fatal("ServerTLS issues session tickets")
	}
}

func TestRotationReachesNewHandshakes(t *testing.T) {
	ca := newCA(t, td)
	srv := newSource(issue(t, ca, payments), ca.Bundle())
	cli := newSource(issue(t, ca, orders), ca.Bundle())
	scfg, ccfg := security.ServerTLS(srv), security.ClientTLS(cli, payments)
	_, _, first := handshake(t, scfg, ccfg)

	cli.svid.Store(issue(t, ca, orders))
	_, _, second := handshake(t, scfg, ccfg)
	if first.PeerCertificates[0].SerialNumber.Cmp(second.PeerCertificates[0].SerialNumber) == 0 {
		t.Fatal("a new handshake presented the old SVID")
	}
}

func TestCARollover(t *testing.T) {
	oldCA, newCA := newCA(t, td), newCA(t, td)
	// During a rollover the bundle holds both roots.
	both := oldCA.Bundle()
	for _, c := range newCA.Bundle().X509Authorities() {
		both.AddX509Authority(c)
	}
	srv := newSource(issue(t, newCA, payments), both)
	for _, cliCA := range []struct {
		name string
		svid *source
	}{
		{"old root", newSource(issue(t, oldCA, orders), both)},
		{"new root", newSource(issue(t, newCA, orders), both)},
	} {
		serr, cerr, _ := handshake(t, security.ServerTLS(srv), security.ClientTLS(cliCA.svid, payments))
		if serr != nil || cerr != nil {
			t.Errorf("client from the %s: server %v, client %v", cliCA.name, serr, cerr)
		}
	}
}
