package jwtauth_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/clocktest"
	"github.com/weftmesh/weft/security/jwtauth"
)

// waitScheduled waits until the key set's refresh loop, alone on clk,
// waits for the clock to move by want.
func waitScheduled(t *testing.T, clk *clocktest.Clock, want time.Duration) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the next read scheduled in %v", want), func() bool {
		return slices.Equal(clk.Waiting(), []time.Duration{want})
	}, func() string { return fmt.Sprintf("the clock's waits: %v", clk.Waiting()) })
}

// waitFor polls cond until it holds, failing after 10 s with what says.
func waitFor(t *testing.T, what string, cond func() bool, says func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; %s", what, says())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// refusedAsUnknownKey reports whether a token was refused because the
// key set does not list its key.
func refusedAsUnknownKey(res jwtauth.Result, kid string) bool {
	var te *jwtauth.TokenError
	return errors.As(res.Err, &te) && strings.Contains(te.Reason, fmt.Sprintf("no key named %q", kid))
}

// TestScheduledRefreshFile checks that a key set file is read again every
// refreshInterval: an issuer that replaced its key in the file has its
// old key's tokens refused and its new key's accepted. Only the scheduled
// read can refuse the old key, which stays valid until the file is read.
func TestScheduledRefreshFile(t *testing.T) {
	clk := newClock()
	k1, k2 := newRSASigner(t, 0, "k1"), newRSASigner(t, 1, "k2")
	path := writeKeySet(t, k1)
	cfg := fileConfig(path)
	cfg.Issuers[0].JWKS.RefreshInterval = time.Minute
	a := mustNew(t, cfg, jwtauth.Options{Now: clk.Now, After: clk.After})
	old := k1.Sign(t, claimsAt(clk.Now()))
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(old)); res.Err != nil {
		t.Fatal(res.Err)
	}
	waitScheduled(t, clk, time.Minute)
	if err := os.WriteFile(path, keySet(t, k2), 0o600); err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Minute - time.Second)
	if got := clk.Waiting(); !slices.Equal(got, []time.Duration{time.Second}) {
		t.Fatalf("the clock's waits %v before the refresh interval passed, want [1s]", got)
	}
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(old)); res.Err != nil {
		t.Fatalf("the old key before the file was read again: %v", res.Err)
	}

	clk.Advance(time.Second)
	var last jwtauth.Result
	waitFor(t, "the file read again", func() bool {
		last = a.AuthenticateHTTP(within(t, 10*time.Second), bearer(old))
		return last.Err != nil
	}, func() string { return "the old key's token is still accepted" })
	if !refusedAsUnknownKey(last, "k1") {
		t.Errorf("the old key's token after the refresh: %v", last.Err)
	}
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(k2.Sign(t, claimsAt(clk.Now())))); res.Err != nil {
		t.Errorf("the new key's token after the refresh: %v", res.Err)
	}
	waitScheduled(t, clk, time.Minute)
}

// TestScheduledRefreshURL checks that a key set URL is fetched again
// every refreshInterval, so that a key the issuer adds is known before
// its first token arrives: that token causes no fetch.
func TestScheduledRefreshURL(t *testing.T) {
	clk := newClock()
	k1, k2 := newRSASigner(t, 0, "k1"), newRSASigner(t, 1, "k2")
	srv := newJWKSServer(t, keySet(t, k1))
	cfg := urlConfig(srv)
	cfg.Issuers[0].JWKS.RefreshInterval = 30 * time.Second
	a := mustNew(t, cfg, jwtauth.Options{Now: clk.Now, After: clk.After})
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(k1.Sign(t, claimsAt(clk.Now())))); res.Err != nil {
		t.Fatal(res.Err)
	}
	waitScheduled(t, clk, 30*time.Second)
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after the first, want 1", n)
	}
	srv.set(keySet(t, k1, k2))

	clk.Advance(30 * time.Second)
	waitScheduled(t, clk, 30*time.Second) // the loop schedules the next read once this one ended
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after the refresh interval, want 2", n)
	}
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(k2.Sign(t, claimsAt(clk.Now())))); res.Err != nil {
		t.Errorf("the new key's token: %v", res.Err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want still 2: the scheduled fetch should have brought the new key", n)
	}
}

// TestRefreshBackoff checks the schedule after failed fetches: the first
// retry after minRefreshInterval, each next one twice as late, never later
// than refreshInterval; a good fetch brings back the regular schedule,
// and the next failure retries after minRefreshInterval again.
func TestRefreshBackoff(t *testing.T) {
	clk := newClock()
	k1, k2 := newRSASigner(t, 0, "k1"), newRSASigner(t, 1, "k2")
	srv := newJWKSServer(t, keySet(t, k1))
	cfg := urlConfig(srv) // minRefreshInterval 1s
	cfg.Issuers[0].JWKS.RefreshInterval = 10 * time.Second
	a := mustNew(t, cfg, jwtauth.Options{Now: clk.Now, After: clk.After})
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(k1.Sign(t, claimsAt(clk.Now())))); res.Err != nil {
		t.Fatal(res.Err)
	}
	waitScheduled(t, clk, 10*time.Second)

	srv.fail(http.StatusInternalServerError)
	fetches := srv.fetches.Load()
	wait := 10 * time.Second
	for _, next := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		clk.Advance(wait)
		waitScheduled(t, clk, next)
		fetches++
		if n := srv.fetches.Load(); n != fetches {
			t.Fatalf("%d fetches, want %d: one per scheduled read", n, fetches)
		}
		wait = next
	}
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(k1.Sign(t, with(claimsAt(clk.Now()), "sub", "bob")))); res.Err != nil {
		t.Errorf("the keys read last while the URL fails: %v", res.Err)
	}

	// The URL recovers with a new key: the next scheduled fetch brings it,
	// and the regular schedule is back.
	srv.fail(0)
	srv.set(keySet(t, k1, k2))
	clk.Advance(wait)
	waitScheduled(t, clk, 10*time.Second)
	if res := a.AuthenticateHTTP(within(t, 10*time.Second), bearer(k2.Sign(t, claimsAt(clk.Now())))); res.Err != nil {
		t.Errorf("the new key after the URL recovered: %v", res.Err)
	}
	fetches += 1
	if n := srv.fetches.Load(); n != fetches {
		t.Errorf("%d fetches, want %d", n, fetches)
	}

	// A failure after a good fetch starts again from minRefreshInterval.
	srv.fail(http.StatusServiceUnavailable)
	clk.Advance(10 * time.Second)
	waitScheduled(t, clk, time.Second)
}
