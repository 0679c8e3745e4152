package files

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// racyWindow is how long after a file's modification time its size and
// mtime are not trusted to reveal a further change: a second write within
// the filesystem's timestamp granularity can leave both equal. Within the
// window every poll compares content instead. Two seconds covers the
// coarsest common filesystems.
const racyWindow = 2 * time.Second

// Source serves the SVID and bundle read from the files a [Config] names,
// and replaces them when the files change. Its methods are safe for
// concurrent use and never block on I/O: they read an immutable snapshot
// that the watcher swaps atomically.
type Source struct {
	cfg    Config
	logger *slog.Logger
	cur    atomic.Pointer[snapshot]

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	// Watcher state, touched only by the watcher goroutine once New
	// returns.
	seen    [3]stamp
	racy    bool
	failing bool   // the files on disk are not what is served
	failSum digest // content of the last rejected set, to warn once

	polls atomic.Uint64 // finished polls, for tests

	mu    sync.Mutex
	stats Stats
}

// Stats counts what the watcher did, for tests and metrics.
type Stats struct {
	// Reloads is the number of times a changed set of files was loaded
	// and swapped in; the load in New is not counted.
	Reloads uint64
	// Errors is the number of distinct contents of the files that were
	// rejected; a broken state that persists over many polls counts once.
	Errors uint64
	// LastError says why the files on disk are not being served, or is
	// empty when they are.
	LastError string
}

// stamp is the cheap hint of a file's change: size and mtime, or the error
// that stat returned.
type stamp struct {
	size int64
	mod  int64 // Unix nanoseconds
	err  string
}

// New loads the files cfg names and starts watching them. It returns an
// error, naming the file at fault, when cfg is invalid or the files do not
// form a valid SVID that chains to the bundle. A nil logger discards logs.
// Call [Source.Close] to stop the watcher.
func New(cfg Config, logger *slog.Logger) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("files: invalid configuration: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if fi, err := os.Stat(cfg.Key); err == nil && fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("files: the private key can be read by other users, who could then act as this service: chmod 600 it",
			"file", cfg.Key, "mode", fi.Mode().Perm())
	}
	s := &Source{
		cfg:    cfg,
		logger: logger,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	// Stat before reading, so that a write landing between the two shows
	// up as a change on the first poll.
	now := time.Now()
	s.seen = statAll(cfg)
	s.racy = racy(s.seen, now)
	in, sum, err := read(cfg)
	if err != nil {
		return nil, err
	}
	snap, err := parse(cfg, in, sum)
	if err != nil {
		return nil, err
	}
	s.cur.Store(snap)
	logger.Info("files: identity loaded", identityAttrs(snap)...)
	go s.watch(cfg.interval())
	return s, nil
}

// GetX509SVID returns the current SVID. The SVID is shared and must not be
// modified; it may be replaced at any time by a newer one.
func (s *Source) GetX509SVID() (*x509svid.SVID, error) {
	return s.cur.Load().svid, nil
}

// GetX509BundleForTrustDomain returns the CA certificates of the bundle
// file when td is the trust domain of the current SVID, and an error for
// any other trust domain. The bundle is shared and must not be modified.
func (s *Source) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	snap := s.cur.Load()
	if own := snap.bundle.TrustDomain(); td != own {
		return nil, fmt.Errorf("files: no bundle for trust domain %q: the bundle file %q is trusted only for %q, the trust domain of this node's SVID", td, s.cfg.Bundle, own)
	}
	return snap.bundle, nil
}

// Close stops watching the files and waits for the watcher to exit. The
// last SVID and bundle stay readable. Close is idempotent and always
// returns nil.
func (s *Source) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// Stats returns the watcher's counters.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Source) watch(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.poll(now)
			s.polls.Add(1)
		}
	}
}

// poll reloads the files when their content differs from what is served.
// Size and mtime are only a hint: content is read and compared when they
// changed, while they are too recent to be trusted, and on every poll while
// the files are in a rejected state, since a certificate that was not yet
// valid may become valid without any write.
func (s *Source) poll(now time.Time) {
	st := statAll(s.cfg)
	if st == s.seen && !s.racy && !s.failing {
		return
	}
	s.seen = st
	s.racy = racy(st, now)

	in, sum, err := read(s.cfg)
	cur := s.cur.Load()
	if err == nil && sum == cur.sum {
		// Touched or rewritten with the same bytes, or back to the served
		// set after a broken state.
		s.setFailing(nil)
		return
	}
	var snap *snapshot
	if err == nil {
		snap, err = parse(s.cfg, in, sum)
	}
	if err != nil {
		s.reject(sum, err, cur)
		return
	}
	s.cur.Store(snap)
	s.mu.Lock()
	s.stats.Reloads++
	s.mu.Unlock()
	s.setFailing(nil)
	s.logger.Info("files: identity reloaded", identityAttrs(snap)...)
}

// reject records a set of files that cannot be served. Tools write the
// files one at a time, so this is routine during a rotation; it is logged
// once per distinct content, not on every poll.
func (s *Source) reject(sum digest, err error, cur *snapshot) {
	first := !s.failing || sum != s.failSum
	s.failSum = sum
	s.setFailing(err)
	if !first {
		return
	}
	s.mu.Lock()
	s.stats.Errors++
	s.mu.Unlock()
	s.logger.Warn("files: identity files rejected; still serving the previous SVID",
		slog.Any("error", err),
		slog.String("id", cur.svid.ID.String()),
		slog.String("serial", serial(cur.svid.Certificates[0])),
		slog.Time("notAfter", cur.svid.Certificates[0].NotAfter))
}

func (s *Source) setFailing(err error) {
	s.failing = err != nil
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.stats.LastError = ""
	} else {
		s.stats.LastError = err.Error()
	}
}

func identityAttrs(snap *snapshot) []any {
	leaf := snap.svid.Certificates[0]
	return []any{
		slog.String("id", snap.svid.ID.String()),
		slog.String("serial", serial(leaf)),
		slog.Time("notAfter", leaf.NotAfter),
		slog.Int("authorities", len(snap.bundle.X509Authorities())),
	}
}

func statAll(c Config) [3]stamp {
	var out [3]stamp
	for i, path := range [3]string{c.Cert, c.Key, c.Bundle} {
		fi, err := os.Stat(path)
		if err != nil {
			out[i] = stamp{err: err.Error()}
			continue
		}
		out[i] = stamp{size: fi.Size(), mod: fi.ModTime().UnixNano()}
	}
	return out
}

// racy reports whether any file changed so recently that a further write
// could leave its size and mtime as they are.
func racy(st [3]stamp, now time.Time) bool {
	for _, f := range st {
		if f.err == "" && now.Sub(time.Unix(0, f.mod)) < racyWindow {
			return true
		}
	}
	return false
}
