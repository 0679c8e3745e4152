package workload

import (
	"context"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Retry delays of the watch after the Workload API fails. Short at first,
// so that a Source waiting for an entry or an agent that is starting gets
// its SVID within a second of it being available; capped so that a
// missing agent costs one attempt every few seconds.
const (
	minRetry = 250 * time.Millisecond
	maxRetry = 5 * time.Second
)

// warnEvery is how often the same watch problem is logged again.
const warnEvery = 30 * time.Second

// watch runs the Workload API watch until ctx ends. The client reconnects
// by itself and reports each failure to the callbacks below, which run on
// this goroutine.
func (s *Source) watch(ctx context.Context) {
	defer close(s.done)
	_ = s.client.WatchX509Context(ctx, (*watcher)(s))
}

// watcher is the Source seen as a workloadapi.X509ContextWatcher, so that
// the callbacks stay out of the Source's method set.
type watcher Source

// OnX509ContextUpdate stores the SVID with the wanted ID and the bundles.
// An update without it keeps the current SVID, which stays valid until it
// expires, but takes the new bundles.
func (w *watcher) OnX509ContextUpdate(c *workloadapi.X509Context) {
	s := (*Source)(w)
	svid := pick(c.SVIDs, s.want)
	old := s.snap.Load()
	if svid == nil {
		issued := make([]spiffeid.ID, len(c.SVIDs))
		for i, v := range c.SVIDs {
			issued[i] = v.ID
		}
		p := notIssued(s.addr, s.want, issued)
		s.setLast(p)
		if old == nil {
			return
		}
		s.warn(p, "the Workload API no longer issues this SVID; serving the current one until it expires",
			"id", s.want.String(), "expires", old.svid.Certificates[0].NotAfter)
		svid = old.svid
	} else {
		// Recovered: a later expiry must not quote a stale problem, and
		// the problem recurring deserves a new warning.
		s.mu.Lock()
		s.hasLast, s.warned = false, warnLimiter{}
		s.mu.Unlock()
	}
	s.snap.Store(&snapshot{svid: svid, bundles: c.Bundles})
	s.updates.Add(1)
	if old == nil {
		s.readyOnce.Do(func() { close(s.ready) })
		return
	}
	if svid.Certificates[0].SerialNumber.Cmp(old.svid.Certificates[0].SerialNumber) != 0 {
		s.logger.Debug("SVID renewed", "id", svid.ID.String(), "expires", svid.Certificates[0].NotAfter)
	}
}

// OnX509ContextWatchError records the failure for New's error and logs
// it; the client retries after a backoff.
func (w *watcher) OnX509ContextWatchError(err error) {
	s := (*Source)(w)
	if status.Code(err) == codes.Canceled {
		return // Close
	}
	p := explainWatchError(s.addr, s.want, err)
	s.setLast(p)
	msg := "Workload API watch failed; retrying"
	if snap := s.snap.Load(); snap != nil {
		msg += "; serving the current SVID until it expires"
	}
	s.warn(p, msg)
}

func (s *Source) setLast(p problem) {
	s.mu.Lock()
	s.last, s.hasLast = p, true
	s.mu.Unlock()
}

// warn logs p at Warn level, at most once per warnEvery for the same
// problem.
func (s *Source) warn(p problem, msg string, args ...any) {
	s.mu.Lock()
	ok := s.warned.allow(p.msg, s.now())
	s.mu.Unlock()
	if ok {
		s.logger.Warn(msg, append(args, "problem", p.msg)...)
	}
}

// pick returns the SVID with ID want, or the first one when want is zero.
func pick(svids []*x509svid.SVID, want spiffeid.ID) *x509svid.SVID {
	if want.IsZero() {
		if len(svids) == 0 {
			return nil
		}
		return svids[0]
	}
	for _, v := range svids {
		if v.ID == want {
			return v
		}
	}
	return nil
}

// warnLimiter lets a message through when it differs from the previous
// one, or when warnEvery has passed since that was let through.
type warnLimiter struct {
	last string
	at   time.Time
}

func (l *warnLimiter) allow(msg string, now time.Time) bool {
	if msg == l.last && now.Sub(l.at) < warnEvery {
		return false
	}
	l.last, l.at = msg, now
	return true
}

// backoffStrategy replaces go-spiffe's linear backoff (one more second
// per failure, up to 30 s) with a doubling one from minRetry to maxRetry.
type backoffStrategy struct{}

func (backoffStrategy) NewBackoff() workloadapi.Backoff { return &backoff{next: minRetry} }

type backoff struct{ next time.Duration }

func (b *backoff) Next() time.Duration {
	d := b.next
	b.next = min(2*b.next, maxRetry)
	return d
}

func (b *backoff) Reset() { b.next = minRetry }
