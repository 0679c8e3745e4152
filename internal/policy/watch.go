package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// WatchConfig configures [Watch].
type WatchConfig struct {
	// Interval is how often the file is checked for changes. If zero,
	// 250 ms.
	Interval time.Duration
	// Logger receives one line per applied policy and one per problem
	// found. If nil, logs are discarded.
	Logger *slog.Logger
	// Apply is called, from the watcher's goroutine and never
	// concurrently, with each valid policy whose hash differs from the one
	// in force. Returning an error rejects the policy: the error is logged
	// and counted like a parse error and the policy in force is kept. If
	// nil, every valid policy is accepted. Apply should not block for long:
	// changes are not checked while it runs.
	Apply func(*Policy) error
}

// WatchStats is a snapshot of a [Watcher]'s counters.
type WatchStats struct {
	// Applied counts policies taken into force.
	Applied uint64
	// Rejected counts file versions that were invalid or that Apply
	// refused.
	Rejected uint64
	// LastError is the most recent problem: an invalid or refused policy,
	// or a file that stayed missing or unreadable. It is not cleared when
	// a later version is applied.
	LastError string
	// Hash is the hash of the policy in force; "" if none.
	Hash string
}

// Watcher polls a policy file and applies its valid versions. Create one
// with [Watch]; stop it with [Watcher.Close].
type Watcher struct {
	path     string
	interval time.Duration
	log      *slog.Logger
	apply    func(*Policy) error

	current atomic.Pointer[Policy]

	mu    sync.Mutex
	stats WatchStats

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// missingGrace is how long the file may be missing or unreadable before the
// watcher logs it: editors and config management replace files by rename,
// which leaves a short window with no file at the path.
const missingGrace = time.Second

// Watch starts polling the policy file at path in a goroutine. current is
// the policy in force (usually the result of [Load] on the same path); if
// it is nil, the first valid version read is applied. A valid change is
// applied within about one Interval; an invalid one is logged, one line per
// error, counted, and otherwise ignored until the file changes again.
func Watch(path string, current *Policy, cfg WatchConfig) *Watcher {
	w := &Watcher{
		path:     path,
		interval: cfg.Interval,
		log:      cfg.Logger,
		apply:    cfg.Apply,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if w.interval <= 0 {
		w.interval = 250 * time.Millisecond
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if current != nil {
		w.current.Store(current)
		w.stats.Hash = current.Hash
	}
	go w.run()
	return w
}

// Current returns the policy in force, or nil if there is none yet.
func (w *Watcher) Current() *Policy {
	return w.current.Load()
}

// Stats returns a snapshot of the watcher's counters.
func (w *Watcher) Stats() WatchStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Close stops the watcher and waits for its goroutine to exit. It is safe
// to call more than once and from several goroutines.
func (w *Watcher) Close() {
	w.closeOnce.Do(func() { close(w.stop) })
	<-w.done
}

// fileState is what the watcher knows of the file between polls.
type fileState struct {
	info          os.FileInfo // last stat; nil before the first
	seenHash      string      // hash of the last content processed, valid or not
	missingSince  time.Time   // zero while the file is readable
	missingLogged bool        // the missing file has been logged
}

func (w *Watcher) run() {
	defer close(w.done)
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	var st fileState
	if cur := w.current.Load(); cur != nil {
		st.seenHash = cur.Hash
	}
	for {
		w.poll(&st)
		select {
		case <-w.stop:
			return
		case <-ticker.C:
		}
	}
}

// poll checks the file once and processes it if its content changed.
func (w *Watcher) poll(st *fileState) {
	info, err := os.Stat(w.path)
	if err != nil {
		w.unreadable(st, err)
		return
	}
	if st.info != nil && sameVersion(st.info, info) && time.Since(info.ModTime()) > 2*time.Second {
		return
	}
	data, err := readPolicyFile(w.path)
	if err != nil {
		w.unreadable(st, err)
		return
	}
	if !st.missingSince.IsZero() && st.missingLogged {
		w.log.Info("policy: file is readable again", "path", w.path)
	}
	st.info, st.missingSince, st.missingLogged = info, time.Time{}, false
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	if hash == st.seenHash {
		return
	}
	st.seenHash = hash
	if cur := w.current.Load(); cur != nil && cur.Hash == hash {
		return // back to the version in force
	}
	w.process(data)
}

// sameVersion reports whether two stats of the path look like the same
// version of the same file. A file written twice within the file system's
// timestamp granularity looks unchanged, which is why poll also re-reads
// files modified in the last seconds.
func sameVersion(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// process parses a new version of the file and applies it if valid.
func (w *Watcher) process(data []byte) {
	p, err := Parse(w.path, data)
	if err != nil {
		var list ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				w.log.Error("policy: rejected", "error", e.Error())
			}
		} else {
			w.log.Error("policy: rejected", "error", err.Error())
		}
		w.reject(err)
		return
	}
	if w.apply != nil {
		if err := w.apply(p); err != nil {
			var list ErrorList
			if errors.As(err, &list) {
				for _, e := range list {
					w.log.Error("policy: not applied", "error", e.Error())
				}
			} else {
				w.log.Error("policy: not applied", "path", w.path, "error", err.Error())
			}
			w.reject(err)
			return
		}
	}
	w.current.Store(p)
	w.log.Info("policy: applied", "path", w.path, "hash", p.ShortHash(), "services", len(p.Services))
	w.mu.Lock()
	w.stats.Applied++
	w.stats.Hash = p.Hash
	w.mu.Unlock()
}

func (w *Watcher) reject(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stats.Rejected++
	w.stats.LastError = err.Error()
}

// unreadable handles a failed stat or read: retried silently during the
// grace period, then logged once until the file is back.
func (w *Watcher) unreadable(st *fileState, err error) {
	st.info = nil
	if st.missingSince.IsZero() {
		st.missingSince = time.Now()
	}
	if st.missingLogged || time.Since(st.missingSince) < missingGrace {
		return
	}
	st.missingLogged = true
	msg := "policy: cannot read the policy file; keeping the policy in force"
	if errors.Is(err, fs.ErrNotExist) {
		msg = "policy: policy file is missing; keeping the policy in force"
	}
	w.log.Warn(msg, "path", w.path, "error", err.Error())
	w.mu.Lock()
	w.stats.LastError = err.Error()
	w.mu.Unlock()
}
