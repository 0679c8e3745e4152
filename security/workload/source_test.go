package workload

import (
	"context"
	"errors"
	"fmt"
	"github.com/weftmesh/weft/internal/logtest"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// TestSourcesGetTheirOwnIDs runs two Sources against one agent that serves
// both SVIDs to the process: each must pick its own, chained to SPIRE's
// bundle.
func TestSourcesGetTheirOwnIDs(t *testing.T) {
	s := spire(t)
	t.Parallel()
	t.Logf("SPIRE started in %v; first SVID %v after registering", timings.start.Round(time.Millisecond), timings.firstSVID.Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	bundle, err := s.Bundle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []spiffeid.ID{idA, idB} {
		began := time.Now()
		src, err := New(ctx, Config{Socket: s.SocketAddr()}, id, nil)
		if err != nil {
			t.Fatalf("New(%s): %v", id, err)
		}
		defer src.Close()
		t.Logf("New(%s) returned in %v", id, time.Since(began).Round(time.Millisecond))

		svid, err := src.GetX509SVID()
		if err != nil {
			t.Fatal(err)
		}
		if svid.ID != id {
			t.Errorf("Source for %s serves %s", id, svid.ID)
		}
		got, _, err := x509svid.Verify(svid.Certificates, src)
		if err != nil || got != id {
			t.Errorf("SVID of %s does not verify against the Source's bundle: %v, %v", id, got, err)
		}
		if _, _, err := x509svid.Verify(svid.Certificates, bundle); err != nil {
			t.Errorf("SVID of %s does not verify against the server's bundle: %v", id, err)
		}
		if src.Updates() == 0 {
			t.Errorf("Updates() = 0 after New returned")
		}
	}
}

// TestRotation proves that the Source follows the agent's renewals: a new
// certificate is served before the old one expires, and it verifies.
func TestRotation(t *testing.T) {
	s := spire(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	src, err := New(ctx, Config{Socket: s.SocketAddr()}, idRotating, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	first, err := src.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	leaf := first.Certificates[0]
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > rotationTTL+time.Minute {
		t.Fatalf("SVID lives %v: the entry's TTL (%v) was not applied", life, rotationTTL)
	}
	updates := src.Updates()
	began := time.Now()
	var next *x509svid.SVID
	eventually(t, rotationTTL+5*time.Second, "rotation", func() bool {
		next, err = src.GetX509SVID()
		return err == nil && next.Certificates[0].SerialNumber.Cmp(leaf.SerialNumber) != 0
	})
	t.Logf("rotated %v after New (SVID issued %v before New; TTL %v)", time.Since(began).Round(time.Millisecond),
		began.Sub(leaf.NotBefore.Add(10*time.Second)).Round(time.Second), rotationTTL)

	if !next.Certificates[0].NotAfter.After(leaf.NotAfter) {
		t.Errorf("rotated SVID expires at %v, not after the old one (%v)", next.Certificates[0].NotAfter, leaf.NotAfter)
	}
	if time.Now().After(leaf.NotAfter) {
		t.Errorf("the old SVID expired (%v) before the rotation was seen", leaf.NotAfter)
	}
	if id, _, err := x509svid.Verify(next.Certificates, src); err != nil || id != idRotating {
		t.Errorf("rotated SVID does not verify: %v, %v", id, err)
	}
	bundle, err := s.Bundle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x509svid.Verify(next.Certificates, bundle); err != nil {
		t.Errorf("rotated SVID does not verify against the server's bundle: %v", err)
	}
	if src.Updates() <= updates {
		t.Errorf("Updates() = %d, not above %d after a rotation", src.Updates(), updates)
	}
}

// TestUnregisteredID proves that asking for an ID the agent does not issue
// ends at the deadline with the IDs it does issue and the advice.
func TestUnregisteredID(t *testing.T) {
	s := spire(t)
	t.Parallel()
	const wait = 2 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	began := time.Now()
	_, err := New(ctx, Config{Socket: s.SocketAddr()}, idNoEntry, nil)
	if err == nil {
		t.Fatal("New succeeded for an ID without an entry")
	}
	if took := time.Since(began); took > wait+time.Second {
		t.Errorf("New took %v, beyond its %v deadline", took, wait)
	}
	msg := err.Error()
	for _, want := range []string{"issued", idA.String(), idB.String(), "but not " + idNoEntry.String(), "add a registration entry for " + idNoEntry.String()} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !errors.Is(err, ErrNoEntry) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error does not wrap ErrNoEntry and the deadline: %v", err)
	}
}

// TestNoEntryForWorkload checks the answer New got from the agent before
// any entry was registered (see startShared).
func TestNoEntryForWorkload(t *testing.T) {
	spire(t)
	err := timings.noEntry
	msg := err.Error()
	for _, want := range []string{
		"has no registration entry for this workload",
		"create one for " + idA.String(),
		fmt.Sprintf("spire-server entry create -spiffeID %s -parentID", idA),
		fmt.Sprintf("-selector unix:uid:%d", os.Getuid()),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !errors.Is(err, ErrNoEntry) {
		t.Errorf("error does not wrap ErrNoEntry: %v", err)
	}
}

var removals atomic.Int64

// TestKeepsSVIDWhenEntryRemoved proves that an update without the wanted
// SVID keeps the current one served and says so.
func TestKeepsSVIDWhenEntryRemoved(t *testing.T) {
	s := spire(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// An entry of its own, so that the test can run again (-count).
	idRemoved := spiffeid.RequireFromPathf(td, "/svc/removed-%d", removals.Add(1))
	if err := s.Register(ctx, idRemoved, 0); err != nil {
		t.Fatal(err)
	}
	logger, logs := logtest.New()
	src, err := New(ctx, Config{Socket: s.SocketAddr()}, idRemoved, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	before, err := src.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, idRemoved); err != nil {
		t.Fatal(err)
	}
	eventually(t, 8*time.Second, "warning about the removed entry", func() bool {
		return strings.Contains(logs.String(), "no longer issues")
	})
	after, err := src.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	if after.ID != idRemoved || after.Certificates[0].SerialNumber.Cmp(before.Certificates[0].SerialNumber) != 0 {
		t.Errorf("after the entry's removal the Source serves %s serial %v, want the old SVID", after.ID, after.Certificates[0].SerialNumber)
	}
	if n := strings.Count(logs.String(), "no longer issues"); n != 1 {
		t.Errorf("the warning was logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestDefaultSVID: with no wanted ID the Source takes the agent's first
// SVID, whichever it is.
func TestDefaultSVID(t *testing.T) {
	s := spire(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	src, err := New(ctx, Config{Socket: s.SocketAddr()}, spiffeid.ID{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	svid, err := src.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	// Other tests add and remove entries, so the first may be any of them.
	if svid.ID.TrustDomain() != td || !strings.HasPrefix(svid.ID.Path(), "/svc/") {
		t.Errorf("default SVID %s is none of the registered IDs", svid.ID)
	}
}

// TestBundles: the Source serves its trust domain's bundle and names the
// trust domain it has no bundle for.
func TestBundles(t *testing.T) {
	s := spire(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	src, err := New(ctx, Config{Socket: s.SocketAddr()}, idB, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	want, err := s.Bundle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := src.GetX509BundleForTrustDomain(td)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Errorf("bundle for %s differs from the server's", td)
	}
	other := spiffeid.RequireTrustDomainFromString("other.org")
	if _, err := src.GetX509BundleForTrustDomain(other); err == nil || !strings.Contains(err.Error(), `"other.org"`) {
		t.Errorf("bundle for an unknown trust domain: %v, want an error naming it", err)
	}
}

// TestSocketFromEnvironment: an empty Config takes $SPIFFE_ENDPOINT_SOCKET.
func TestSocketFromEnvironment(t *testing.T) {
	s := spire(t)
	t.Setenv(SocketEnv, s.SocketAddr())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	src, err := New(ctx, Config{}, idA, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if svid, err := src.GetX509SVID(); err != nil || svid.ID != idA {
		t.Errorf("GetX509SVID() = %v, %v", svid, err)
	}
}

// TestClose: Close is idempotent and the last SVID stays readable; goleak
// in TestMain proves that nothing keeps running.
func TestClose(t *testing.T) {
	s := spire(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	src, err := New(ctx, Config{Socket: s.SocketAddr()}, idA, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if svid, err := src.GetX509SVID(); err != nil || svid.ID != idA {
		t.Errorf("GetX509SVID after Close = %v, %v", svid, err)
	}
	if _, err := src.GetX509BundleForTrustDomain(td); err != nil {
		t.Errorf("GetX509BundleForTrustDomain after Close: %v", err)
	}
}

// TestNoAgent: an address where nothing listens ends at the deadline with
// the advice to check the agent and the path.
func TestNoAgent(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "wl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().String()
	l.Close()

	for _, addr := range []string{"unix://" + dir + "/agent.sock", "tcp://" + closedPort} {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		_, err := New(ctx, Config{Socket: addr}, idA, nil)
		cancel()
		if err == nil {
			t.Fatalf("New(%s) succeeded with no agent", addr)
		}
		want := "no Workload API at " + addr
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "is the SPIRE agent running, and is the socket path right?") {
			t.Errorf("New(%s): %v\nwant %q and the advice", addr, err, want)
		}
		if !errors.Is(err, ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("New(%s): error does not wrap ErrUnreachable and the deadline: %v", addr, err)
		}
	}
}

func TestNoAddress(t *testing.T) {
	t.Setenv(SocketEnv, "")
	_, err := New(t.Context(), Config{}, idA, nil)
	if !errors.Is(err, ErrNoAddress) {
		t.Fatalf("New without an address: %v, want ErrNoAddress", err)
	}
	if !strings.Contains(err.Error(), "set security.identity.spiffe.socket or $SPIFFE_ENDPOINT_SOCKET") {
		t.Errorf("error lacks the advice: %v", err)
	}
}

func TestInvalidAddress(t *testing.T) {
	_, err := New(t.Context(), Config{Socket: "unix://run/agent.sock"}, idA, nil)
	if err == nil || !strings.Contains(err.Error(), "absolute path") {
		t.Fatalf("New with a relative unix address: %v", err)
	}
}

// TestContextAlreadyDone: New returns at once, saying nothing answered.
func TestContextAlreadyDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := New(ctx, Config{Socket: "unix:///nonexistent/agent.sock"}, idA, nil)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("New with a done context: %v", err)
	}
}
