package devca

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Bounds of the wait between failed renewals: the first retry comes after
// minRetry, each next one after twice as long up to maxRetry, and never
// later than half the time the current SVID has left.
const (
	minRetry = time.Second
	maxRetry = 30 * time.Second
	// minWait keeps a nearly expired SVID from making the loop spin.
	minWait = 100 * time.Millisecond
)

// Source is a node's identity issued by a development [CA]: an SVID that
// a background goroutine renews, with a new key, at half of its lifetime.
// It implements the provider contract of
// [github.com/weftmesh/weft/security]: its methods are safe for concurrent
// use and never block, except Close.
type Source struct {
	id     spiffeid.ID
	ttl    time.Duration
	ca     *CA
	bundle *x509bundle.Bundle
	logger *slog.Logger

	svid     atomic.Pointer[x509svid.SVID]
	renewals atomic.Uint64

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// NewSource loads the CA in cfg.CA and returns a Source for id, which must
// be in the CA's trust domain. See [NewSourceFromCA]. logger receives the
// warning that the identity is for development and renewal failures; if
// nil, nothing is logged.
func NewSource(cfg Config, id spiffeid.ID, logger *slog.Logger) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ca, err := Load(cfg.CA)
	if err != nil {
		return nil, err
	}
	if logger != nil {
		if fi, err := os.Stat(filepath.Join(cfg.CA, KeyFile)); err == nil && fi.Mode().Perm()&0o077 != 0 && firstTime("perm:"+string(ca.cert.Raw)) {
			logger.Warn("devca: the CA key can be read by other users, who could then mint any identity of the mesh: chmod 600 it",
				"file", filepath.Join(cfg.CA, KeyFile), "mode", fi.Mode().Perm())
		}
	}
	return NewSourceFromCA(ca, id, cfg.ttl(), logger)
}

// NewSourceFromCA returns a Source for id whose SVIDs ca issues, each valid
// for ttl (if zero, [DefaultTTL]). It issues the first SVID before
// returning, so GetX509SVID never fails, logs one warning that the identity
// must not be used in production, and starts the renewal goroutine, which
// runs until [Source.Close].
func NewSourceFromCA(ca *CA, id spiffeid.ID, ttl time.Duration, logger *slog.Logger) (*Source, error) {
	if ca == nil {
		return nil, errors.New("devca: new source: nil CA")
	}
	if ttl < 0 {
		return nil, fmt.Errorf("devca: new source: ttl must not be negative, got %v", ttl)
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	issued := time.Now()
	svid, err := ca.Issue(id, ttl)
	if err != nil {
		return nil, err
	}
	s := &Source{
		id:     id,
		ttl:    ttl,
		ca:     ca,
		bundle: ca.Bundle(),
		logger: logger,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	s.svid.Store(svid)
	if firstTime("dev:" + string(ca.cert.Raw)) {
		logger.Warn("devca: identities come from a DEVELOPMENT CA; do not use it in production, where identities come from the SPIFFE Workload API (said once per CA in this process)",
			"id", id.String(), "trustDomain", ca.td.Name(), "ttl", ttl)
	}
	go s.run(issued, svid)
	return s, nil
}

// warned holds the warnings already given in this process: several nodes
// in one process (a test, the quickstart) share a CA, and one warning per
// CA says it all.
var warned sync.Map

// firstTime reports whether key is seen for the first time.
func firstTime(key string) bool {
	_, seen := warned.LoadOrStore(key, true)
	return !seen
}

// GetX509SVID returns the current SVID. The caller must not modify it.
func (s *Source) GetX509SVID() (*x509svid.SVID, error) {
	return s.svid.Load(), nil
}

// GetX509BundleForTrustDomain returns the bundle of the CA's trust domain,
// holding its root certificate, and an error for any other trust domain.
// The caller must not modify the bundle.
func (s *Source) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if td != s.ca.td {
		return nil, fmt.Errorf("devca: no bundle for trust domain %q: this development CA trusts only %q", td.Name(), s.ca.td.Name())
	}
	return s.bundle, nil
}

// Renewals returns how many times the SVID has been renewed since the
// Source was made.
func (s *Source) Renewals() uint64 { return s.renewals.Load() }

// Close stops the renewal goroutine and waits for it to return. The last
// SVID stays readable. Close is idempotent and always returns nil.
func (s *Source) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// run renews the SVID at half of its lifetime until Close.
func (s *Source) run(issued time.Time, cur *x509svid.SVID) {
	defer close(s.done)
	timer := time.NewTimer(renewalDelay(issued, cur))
	defer timer.Stop()
	failures := 0
	for {
		select {
		case <-s.stop:
			return
		case <-timer.C:
		}
		issued = time.Now()
		next, err := s.ca.Issue(s.id, s.ttl)
		if err != nil {
			failures++
			expires := cur.Certificates[0].NotAfter
			wait := retryDelay(failures, expires.Sub(issued))
			s.logger.Warn("devca: renewing the SVID failed; retrying",
				"id", s.id.String(), "err", err, "retryIn", wait, "expires", expires)
			timer.Reset(wait)
			continue
		}
		failures = 0
		cur = next
		s.svid.Store(next)
		s.renewals.Add(1)
		timer.Reset(renewalDelay(issued, next))
	}
}

// renewalDelay is half of the time from issued to the SVID's expiry. It
// is measured from issued rather than NotBefore, which Issue backdates.
func renewalDelay(issued time.Time, svid *x509svid.SVID) time.Duration {
	return max(svid.Certificates[0].NotAfter.Sub(issued)/2, minWait)
}

// retryDelay is the wait after the nth failed renewal in a row, given how
// long the current SVID has left.
func retryDelay(n int, left time.Duration) time.Duration {
	d := maxRetry
	if n <= 5 { // minRetry<<5 already exceeds maxRetry
		d = min(minRetry<<(n-1), maxRetry)
	}
	if left > 0 {
		d = min(d, left/2)
	}
	return max(d, minWait)
}
