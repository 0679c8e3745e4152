package workload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// Source serves the SVID with one SPIFFE ID and the trust bundles, as the
// Workload API last delivered them. Its methods are safe for concurrent
// use and never block; it implements the Source contract of
// [github.com/weftmesh/weft/security].
type Source struct {
	addr   string
	want   spiffeid.ID
	logger *slog.Logger
	now    func() time.Time

	client *workloadapi.Client
	cancel context.CancelFunc
	done   chan struct{} // closed when the watch goroutine has returned

	snap    atomic.Pointer[snapshot]
	updates atomic.Uint64

	ready     chan struct{} // closed when the first snapshot is stored
	readyOnce sync.Once

	mu      sync.Mutex // guards the fields below, written by the watch
	last    problem    // why the wanted SVID is missing, or the latest watch error
	hasLast bool
	warned  warnLimiter

	closeOnce sync.Once
	closeErr  error
}

// snapshot is what the Source serves, replaced whole on every update.
type snapshot struct {
	svid    *x509svid.SVID
	bundles *x509bundle.Set
}

// New connects to the Workload API that cfg names and returns once it has
// delivered an SVID whose ID is want, with the bundles that came with it.
// If want is the zero ID, the agent's default SVID (the first) is taken.
//
// ctx bounds only this wait; the watch that keeps the SVID fresh runs
// until Close. When ctx ends first, the error explains the last thing the
// Workload API said (or that it said nothing) and what to do about it; it
// wraps ctx's error and one of [ErrUnreachable] or [ErrNoEntry] when the
// cause is known. logger receives warnings about the watch; if nil,
// nothing is logged.
func New(ctx context.Context, cfg Config, want spiffeid.ID, logger *slog.Logger) (*Source, error) {
	addr := cfg.address()
	if addr == "" {
		return nil, ErrNoAddress
	}
	if msg := checkAddress(addr); msg != "" {
		return nil, fmt.Errorf("workload: %s", msg)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Dialing does not block: the connection is made by the first watch.
	client, err := workloadapi.New(ctx, workloadapi.WithAddr(addr), workloadapi.WithBackoffStrategy(backoffStrategy{}))
	if err != nil {
		return nil, fmt.Errorf("workload: client for %s: %w", addr, err)
	}
	s := &Source{
		addr:   addr,
		want:   want,
		logger: logger.With("workloadAPI", addr),
		now:    time.Now,
		client: client,
		done:   make(chan struct{}),
		ready:  make(chan struct{}),
	}
	// The watch outlives ctx, which bounds only the first SVID; it keeps
	// ctx's values and ends with Close.
	watchCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go s.watch(watchCtx)

	select {
	case <-s.ready:
		return s, nil
	case <-s.done:
		// The watch gave up by itself: the agent refused the request.
		err := s.startError(errors.New("the Workload API ended the watch"))
		s.Close()
		return nil, err
	case <-ctx.Done():
		err := s.startError(ctx.Err())
		s.Close()
		return nil, err
	}
}

func (s *Source) startError(ctxErr error) error {
	s.mu.Lock()
	p, ok := s.last, s.hasLast
	s.mu.Unlock()
	if !ok {
		p = noAnswer(s.addr)
	}
	return p.startError(ctxErr)
}

// GetX509SVID returns the newest SVID with the Source's ID. When the
// Workload API has stopped renewing it, the last one is served until it
// expires; after that the error says why no renewal came.
func (s *Source) GetX509SVID() (*x509svid.SVID, error) {
	snap := s.snap.Load()
	if snap == nil {
		return nil, errors.New("workload: no SVID yet")
	}
	if leaf := snap.svid.Certificates[0]; s.now().After(leaf.NotAfter) {
		s.mu.Lock()
		p, ok := s.last, s.hasLast
		s.mu.Unlock()
		why := "the Workload API has not renewed it"
		if ok {
			why += ": " + p.msg
		}
		return nil, fmt.Errorf("workload: the SVID for %s expired at %s and %s", snap.svid.ID, leaf.NotAfter.UTC().Format(time.RFC3339), why)
	}
	return snap.svid, nil
}

// GetX509BundleForTrustDomain returns the authorities the Workload API
// last delivered for td: the node's own trust domain and every trust
// domain it federates with.
func (s *Source) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	snap := s.snap.Load()
	if snap == nil {
		return nil, errors.New("workload: no bundles yet")
	}
	if b, ok := snap.bundles.Get(td); ok {
		return b, nil
	}
	return nil, fmt.Errorf("workload: the Workload API at %s delivered no bundle for trust domain %q: federate with it in SPIRE (federates_with and the entry's -federatesWith) to trust its peers", s.addr, td.Name())
}

// Updates returns how many X.509 contexts (SVID and bundle updates) the
// Source has applied since New, the first included.
func (s *Source) Updates() uint64 { return s.updates.Load() }

// Close stops the watch, waits for it to end and closes the connection to
// the Workload API. The last SVID and bundles stay readable. Close is
// idempotent; every call returns the first call's result.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		if err := s.client.Close(); err != nil {
			s.closeErr = fmt.Errorf("workload: close the connection to %s: %w", s.addr, err)
		}
	})
	return s.closeErr
}
