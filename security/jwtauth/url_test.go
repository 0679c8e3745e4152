package jwtauth_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/security/jwtauth"
)

// jwksServer serves a key set over TLS, and can be made to fail or hang.
type jwksServer struct {
	*httptest.Server
	ca      string // path of the PEM of the server's certificate
	fetches atomic.Int64

	mu      sync.Mutex
	doc     []byte
	status  int           // 0: 200
	hang    chan struct{} // when set, requests wait for it to close (or give up)
	release sync.Once
}

func newJWKSServer(t *testing.T, doc []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{doc: doc}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	s.ca = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(s.ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.unhang()
		s.Close()
	})
	return s
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.fetches.Add(1)
	s.mu.Lock()
	doc, status, hang := s.doc, s.status, s.hang
	s.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		http.Error(w, "down", status)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Write(doc)
}

func (s *jwksServer) set(doc []byte) {
	s.mu.Lock()
	s.doc = doc
	s.mu.Unlock()
}

func (s *jwksServer) fail(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

func (s *jwksServer) hangRequests() {
	s.mu.Lock()
	s.hang = make(chan struct{})
	s.mu.Unlock()
}

func (s *jwksServer) unhang() {
	s.mu.Lock()
	h := s.hang
	s.hang = nil
	s.mu.Unlock()
	if h != nil {
		close(h)
	}
}

func urlConfig(s *jwksServer) jwtauth.Config {
	return jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: testIssuer, Audiences: []string{testAudience},
		JWKS: jwtauth.JWKS{URL: s.URL + "/.well-known/jwks.json", CA: s.ca, MinRefreshInterval: time.Second, Timeout: 5 * time.Second}}}}
}

func within(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestKeySetOverHTTPS(t *testing.T) {
	clk := newClock()
	k1 := newRSASigner(t, 0, "k1")
	srv := newJWKSServer(t, keySet(t, k1))
	a := mustNew(t, urlConfig(srv), jwtauth.Options{Now: clk.Now})
	// The first request waits for the first fetch.
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(k1.Sign(t, claimsAt(clk.Now())))); res.Err != nil {
		t.Fatal(res.Err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

// TestRotation checks the refresh on an unknown kid, its rate bound, and
// that a key leaving the set takes its cached tokens with it.
func TestRotation(t *testing.T) {
	clk := newClock()
	k1, k2, k3 := newRSASigner(t, 0, "k1"), newRSASigner(t, 1, "k2"), newRSASigner(t, 2, "k3")
	srv := newJWKSServer(t, keySet(t, k1))
	a := mustNew(t, urlConfig(srv), jwtauth.Options{Now: clk.Now})
	old := k1.Sign(t, claimsAt(clk.Now()))
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(old)); res.Err != nil {
		t.Fatal(res.Err)
	}

	// The issuer rotates to k2: the first k2 token triggers one fetch.
	srv.set(keySet(t, k2))
	clk.Advance(2 * time.Second)
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(k2.Sign(t, claimsAt(clk.Now())))); res.Err != nil {
		t.Fatalf("token with the new key: %v", res.Err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches after the rotation, want 2", n)
	}
	// k1 left the set: its cached token is refused.
	res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(old))
	var te *jwtauth.TokenError
	if !errors.As(res.Err, &te) || !strings.Contains(te.Reason, `no key named "k1"`) {
		t.Errorf("token of a removed key: %v", res.Err)
	}

	// Unknown kids within the minimum interval cause no fetch.
	srv.set(keySet(t, k2, k3))
	for range 5 {
		res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(k3.Sign(t, claimsAt(clk.Now()))))
		if !errors.As(res.Err, &te) || !strings.Contains(te.Reason, `no key named "k3"`) {
			t.Errorf("unknown kid within the rate bound: %v", res.Err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want still 2: unknown kids must not fetch within minRefreshInterval", n)
	}
	clk.Advance(time.Second)
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(k3.Sign(t, claimsAt(clk.Now())))); res.Err != nil {
		t.Errorf("unknown kid after the rate bound: %v", res.Err)
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Errorf("%d fetches, want 3", n)
	}
}

// TestKeySetURLDown checks that keys read before keep working while the
// URL fails, and that a failing refresh costs a request nothing more.
func TestKeySetURLDown(t *testing.T) {
	clk := newClock()
	k1 := newRSASigner(t, 0, "k1")
	srv := newJWKSServer(t, keySet(t, k1))
	a := mustNew(t, urlConfig(srv), jwtauth.Options{Now: clk.Now})
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(k1.Sign(t, claimsAt(clk.Now())))); res.Err != nil {
		t.Fatal(res.Err)
	}
	srv.fail(http.StatusInternalServerError)
	clk.Advance(2 * time.Second)
	// An unknown kid makes a refresh, which fails.
	res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(newRSASigner(t, 1, "k2").Sign(t, claimsAt(clk.Now()))))
	var te *jwtauth.TokenError
	if !errors.As(res.Err, &te) {
		t.Errorf("unknown kid while the URL fails: %v", res.Err)
	}
	// A new token of the known key still verifies.
	fresh := k1.Sign(t, with(claimsAt(clk.Now()), "sub", "bob"))
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(fresh)); res.Err != nil || res.Claims.Subject() != "bob" {
		t.Errorf("known key while the URL fails: %v", res.Err)
	}
	// And with the server gone altogether.
	srv.Close()
	clk.Advance(2 * time.Second)
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(k1.Sign(t, with(claimsAt(clk.Now()), "sub", "carol")))); res.Err != nil {
		t.Errorf("known key with the URL gone: %v", res.Err)
	}
}

// TestSlowKeySetURL checks that no request waits for a slow key set past
// its own deadline, before and after the first keys arrived.
func TestSlowKeySetURL(t *testing.T) {
	clk := newClock()
	k1 := newRSASigner(t, 0, "k1")
	srv := newJWKSServer(t, keySet(t, k1))
	srv.hangRequests()
	a := mustNew(t, urlConfig(srv), jwtauth.Options{Now: clk.Now})

	start := time.Now()
	res := a.AuthenticateHTTP(within(t, 200*time.Millisecond), bearer(k1.Sign(t, claimsAt(clk.Now()))))
	elapsed := time.Since(start)
	if !errors.Is(res.Err, jwtauth.ErrKeysUnavailable) || res.Status() != http.StatusServiceUnavailable {
		t.Errorf("before any key arrived: err %v, status %d", res.Err, res.Status())
	}
	// The fetch timeout is 5 s: a request that waited for it would take
	// that long.
	if elapsed < 150*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("the request took %v with a 200 ms deadline", elapsed)
	}

	srv.unhang()
	deadline := time.Now().Add(10 * time.Second)
	for a.AuthenticateHTTP(within(t, time.Second), bearer(k1.Sign(t, claimsAt(clk.Now())))).Err != nil {
		if time.Now().After(deadline) {
			t.Fatal("the key set never arrived")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Slow again, during a rotation: the unknown kid waits only as long
	// as its request may.
	srv.hangRequests()
	clk.Advance(2 * time.Second)
	start = time.Now()
	res = a.AuthenticateHTTP(within(t, 200*time.Millisecond), bearer(newRSASigner(t, 1, "k2").Sign(t, claimsAt(clk.Now()))))
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("the request took %v with a 200 ms deadline", elapsed)
	}
	var te *jwtauth.TokenError
	if !errors.As(res.Err, &te) {
		t.Errorf("unknown kid while the URL hangs: %v", res.Err)
	}
	if res := a.AuthenticateHTTP(within(t, 200*time.Millisecond), bearer(k1.Sign(t, with(claimsAt(clk.Now()), "sub", "dan")))); res.Err != nil {
		t.Errorf("known key while the URL hangs: %v", res.Err)
	}
}

func TestUntrustedKeySetServer(t *testing.T) {
	k1 := newRSASigner(t, 0, "k1")
	srv := newJWKSServer(t, keySet(t, k1))
	cfg := urlConfig(srv)
	cfg.Issuers[0].JWKS.CA = "" // the system's roots do not know the test server
	a := mustNew(t, cfg, jwtauth.Options{})
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := a.AuthenticateHTTP(within(t, 5*time.Second), bearer(k1.Sign(t, claimsAt(time.Now()))))
		if !errors.Is(res.Err, jwtauth.ErrKeysUnavailable) {
			t.Fatalf("err %v, want ErrKeysUnavailable", res.Err)
		}
		if strings.Contains(res.Err.Error(), "certificate") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("err %v does not say the certificate is not trusted", res.Err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReloadKeepsKeySets checks that an Authenticator built from the same
// key set settings takes over the keys, fetching nothing.
func TestReloadKeepsKeySets(t *testing.T) {
	clk := newClock()
	k1 := newRSASigner(t, 0, "k1")
	srv := newJWKSServer(t, keySet(t, k1))
	cfg := urlConfig(srv)
	first, err := jwtauth.New(cfg, jwtauth.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if res := first.AuthenticateHTTP(within(t, 10*time.Second), bearer(k1.Sign(t, claimsAt(clk.Now())))); res.Err != nil {
		t.Fatal(res.Err)
	}
	cfg.ClockSkew = 5 * time.Second // another setting changes
	second := mustNew(t, cfg, jwtauth.Options{Now: clk.Now, Previous: first})
	first.Close()
	if res := second.AuthenticateHTTP(within(t, 10*time.Second), bearer(k1.Sign(t, claimsAt(clk.Now())))); res.Err != nil {
		t.Fatal(res.Err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1: the reload must reuse the keys", n)
	}
	// The source is alive: an unknown kid still fetches.
	clk.Advance(2 * time.Second)
	second.AuthenticateHTTP(within(t, 10*time.Second), bearer(newRSASigner(t, 1, "k2").Sign(t, claimsAt(clk.Now()))))
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}
