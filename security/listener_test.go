package security_test

import (
	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/security"
)

// serveListener serves HTTP on a security.Listener in the given mode and
// returns its address and the listener.
func serveListener(t *testing.T, src security.Source, mode *atomic.Value) (string, *security.Listener) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := security.NewListener(inner, security.ListenerConfig{
		TLS:     security.ServerTLS(src),
		Mode:    func() security.Mode { return mode.Load().(security.Mode) },
		Service: "payments",
	})
	srv := &http.Server{ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := security.PeerID(r.TLS); ok {
			io.WriteString(w, id.String())
			return
		}
		io.WriteString(w, "plaintext")
	})}
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String(), l
}

func TestListenerModes(t *testing.T) {
	ca := newCA(t, td)
	srv := newSource(issue(t, ca, payments), ca.Bundle())
	cli := newSource(issue(t, ca, orders), ca.Bundle())
	var mode atomic.Value
	mode.Store(security.Strict)
	addr, l := serveListener(t, srv, &mode)

	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: security.ClientTLS(cli, payments), DisableKeepAlives: true}}
	plainClient := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(c *http.Client, scheme string) (int, string, error) {
		resp, err := c.Get(scheme + "://" + addr + "/")
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}

	// strict: mTLS only; plaintext callers are told why.
	if code, body, err := get(tlsClient, "https"); err != nil || code != 200 || body != orders.String() {
		t.Fatalf("strict, mTLS: %d %q %v", code, body, err)
	}
	code, body, err := get(plainClient, "http")
	if err != nil || code != http.StatusBadRequest || !strings.Contains(body, "payments accepts mutual TLS only") {
		t.Fatalf("strict, plaintext: %d %q %v; want 400 saying mTLS is required", code, body, err)
	}

	// permissive: both on the same port.
	mode.Store(security.Permissive)
	if code, body, err := get(tlsClient, "https"); err != nil || code != 200 || body != orders.String() {
		t.Fatalf("permissive, mTLS: %d %q %v", code, body, err)
	}
	if code, body, err := get(plainClient, "http"); err != nil || code != 200 || body != "plaintext" {
		t.Fatalf("permissive, plaintext: %d %q %v", code, body, err)
	}

	// disabled: plaintext only.
	mode.Store(security.Disabled)
	if _, _, err := get(tlsClient, "https"); err == nil {
		t.Fatal("disabled: a TLS connection was served")
	}
	if code, body, err := get(plainClient, "http"); err != nil || code != 200 || body != "plaintext" {
		t.Fatalf("disabled, plaintext: %d %q %v", code, body, err)
	}

	st := l.Stats()
	if st.TLS != 2 || st.Plaintext != 2 || st.Refused != 2 {
		t.Errorf("stats %+v, want 2 TLS, 2 plaintext, 2 refused", st)
	}
}

// A client that connects and says nothing must not hold up others.
func TestListenerSilentClientDoesNotBlockAccept(t *testing.T) {
	ca := newCA(t, td)
	srv := newSource(issue(t, ca, payments), ca.Bundle())
	cli := newSource(issue(t, ca, orders), ca.Bundle())
	var mode atomic.Value
	mode.Store(security.Strict)
	addr, _ := serveListener(t, srv, &mode)

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: security.ClientTLS(cli, payments), DisableKeepAlives: true}}
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		t.Fatalf("request behind a silent connection: %v", err)
	}
	resp.Body.Close()
}

// Garbage, half a TLS record and an early close are refused or dropped
// without disturbing the listener.
func TestListenerBadPackets(t *testing.T) {
	ca := newCA(t, td)
	srv := newSource(issue(t, ca, payments), ca.Bundle())
	cli := newSource(issue(t, ca, orders), ca.Bundle())
	var mode atomic.Value
	mode.Store(security.Permissive)
	addr, _ := serveListener(t, srv, &mode)
	for _, junk := range []string{"\x16\x03\x01\x00", "\x16garbage-not-tls", "\x00\x01\x02", ""} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(junk))
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, bufio.NewReader(c)) // the server ends the connection
		c.Close()
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: security.ClientTLS(cli, payments), DisableKeepAlives: true}}
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		t.Fatalf("request after bad packets: %v", err)
	}
	resp.Body.Close()
}

func TestListenerCloseStopsPending(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ca := newCA(t, td)
	l := security.NewListener(inner, security.ListenerConfig{TLS: security.ServerTLS(newSource(issue(t, ca, payments), ca.Bundle()))})
	silent, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("Accept after Close returned a connection")
	}
	l.Close() // idempotent
	var b [1]byte
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(b[:]); err == nil {
		t.Fatal("a connection pending classification was left open")
	}
}
