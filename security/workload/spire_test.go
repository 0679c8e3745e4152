package workload

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/internal/spiretest"
)

// rotationTTL is the lifetime of the rotating entry's SVIDs. SPIRE
// backdates every SVID by 10 s and the agent renews at half of the
// resulting lifetime, so a 20 s TTL is renewed about 5 s after issue.
const rotationTTL = 20 * time.Second

var (
	td          = spiffeid.RequireTrustDomainFromString("example.org")
	idA         = spiffeid.RequireFromPath(td, "/svc/a")
	idB         = spiffeid.RequireFromPath(td, "/svc/b")
	idRotating  = spiffeid.RequireFromPath(td, "/svc/rotating")
	idNoEntry   = spiffeid.RequireFromPath(td, "/svc/unregistered")
	registered  = []spiffeid.ID{idA, idB, idRotating}
	sharedOnce  sync.Once
	sharedSPIRE *spiretest.SPIRE
	sharedErr   error
	// Measured once while starting, and logged by the tests.
	timings struct {
		start, firstSVID time.Duration
		// noEntry is New's error before any entry existed.
		noEntry error
	}
)

// spire returns the package's one SPIRE, started on first use with its
// entries registered: every test process runs as one uid, so all entries
// share the unix:uid selector and the agent serves all their SVIDs to
// every Source.
func spire(t *testing.T) *spiretest.SPIRE {
	t.Helper()
	serverBin, agentBin := spiretest.Binaries(t)
	sharedOnce.Do(func() {
		sharedSPIRE, sharedErr = startShared(serverBin, agentBin)
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedSPIRE
}

func startShared(serverBin, agentBin string) (*spiretest.SPIRE, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := time.Now()
	s, err := spiretest.Start(ctx, spiretest.Config{TrustDomain: td, ServerBin: serverBin, AgentBin: agentBin})
	if err != nil {
		return nil, err
	}
	timings.start = time.Since(began)

	// Before any entry exists the agent refuses this process: the one
	// moment the "no registration entry" answer can be observed.
	noEntryCtx, cancelNoEntry := context.WithTimeout(ctx, 500*time.Millisecond)
	src, err := New(noEntryCtx, Config{Socket: s.SocketAddr()}, idA, nil)
	cancelNoEntry()
	if err == nil {
		src.Close()
		s.Close()
		return nil, fmt.Errorf("New succeeded before any entry was registered")
	}
	timings.noEntry = err

	for _, id := range registered {
		ttl := time.Duration(0)
		if id == idRotating {
			ttl = rotationTTL
		}
		if err := s.Register(ctx, id, ttl); err != nil {
			s.Close()
			return nil, err
		}
	}
	// Waiting here for the entries to reach the agent keeps that delay
	// out of the tests' own deadlines.
	registeredAt := time.Now()
	src, err = New(ctx, Config{Socket: s.SocketAddr()}, idA, nil)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("first SVID: %w\n%s", err, s.Logs())
	}
	timings.firstSVID = time.Since(registeredAt)
	src.Close()
	return s, nil
}

func stopSPIRE() {
	if sharedSPIRE != nil {
		sharedSPIRE.Close()
	}
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
