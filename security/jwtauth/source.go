package jwtauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftmesh/weft/internal/pemfile"
)

// ErrKeysUnavailable is the error of a token that could not be checked
// because its issuer's keys were never obtained: the key set URL has not
// answered since the node started. The request is refused with 503, not
// 401, since the token may well be valid.
var ErrKeysUnavailable = errors.New("jwtauth: the issuer's signing keys are not available yet")

// keySource holds one issuer's key set and keeps it fresh: it reads it
// on schedule and on demand (a token naming an unknown key), never more
// often than its minimum interval, and keeps the last good version while
// reads fail. It is shared by the authenticators of successive policies
// whose JWKS settings are the same, and stops when the last one releases
// it.
type keySource struct {
	cfg    JWKS
	name   string // the file or URL, for logs
	fetch  func(ctx context.Context) ([]byte, error)
	client *http.Client // nil for a file
	logger *slog.Logger
	now    func() time.Time
	after  func(time.Duration) <-chan time.Time // the schedule's clock, Now's

	current atomic.Pointer[keySnapshot] // nil until the first good read

	mu       sync.Mutex
	refs     int
	running  chan struct{}   // closed when the read in progress ends; nil when none runs
	lastRead time.Time       // start of the last read, for the rate bound
	lastErr  error           // of the last read; nil after a good one
	ctx      context.Context // ends when the last owner releases the source
	stop     context.CancelFunc
	done     chan struct{}  // closed when the refresh loop has returned
	reads    sync.WaitGroup // reads in flight
}

// newKeySource makes the source of cfg and starts its refresh loop. A
// file is read before it returns, and an error returned when it cannot
// be; a URL is fetched by the loop, so the first requests may wait for
// it (within their own deadlines).
func newKeySource(cfg JWKS, logger *slog.Logger, now func() time.Time, after func(time.Duration) <-chan time.Time) (*keySource, error) {
	s := &keySource{cfg: cfg, logger: logger, now: now, after: after, refs: 1, done: make(chan struct{})}
	if cfg.File != "" {
		s.name = cfg.File
		s.fetch = func(context.Context) ([]byte, error) { return readFile(cfg.File) }
		if err := s.install(readFile(cfg.File)); err != nil {
			return nil, err
		}
		s.lastRead = now()
	} else {
		client, err := httpsClient(cfg)
		if err != nil {
			return nil, err
		}
		s.name, s.client = cfg.URL, client
		s.fetch = s.get
	}
	// The source outlives any one request: its reads are bounded by the
	// fetch timeout and end when the last owner releases it.
	s.ctx, s.stop = context.WithCancel(context.Background())
	go s.loop(s.ctx)
	return s, nil
}

// httpsClient returns the client that fetches cfg.URL: its own
// connections, the CA given or the system's roots, TLS 1.2 or later, no
// redirect away from https.
func httpsClient(cfg JWKS) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CA != "" {
		pool, err := pemfile.CertPool(cfg.CA)
		if err != nil {
			return nil, fmt.Errorf("jwtauth: jwks.ca: %w", err)
		}
		tc.RootCAs = pool
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     tc,
			TLSHandshakeTimeout: cfg.timeout(),
			MaxIdleConns:        1,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "https" {
				return fmt.Errorf("redirected to %s, which is not https", req.URL.Redacted())
			}
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			return nil
		},
	}, nil
}

// get fetches the key set URL.
func (s *keySource) get(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", s.cfg.URL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySet+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.cfg.URL, err)
	}
	return body, nil
}

// readFile reads a key set file, up to one byte more than a key set may
// hold.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: jwks.file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeySet+1))
	if err != nil {
		return nil, fmt.Errorf("jwtauth: jwks.file: %w", err)
	}
	return b, nil
}

// read reads the key set once and installs it; on failure the current
// set stays.
func (s *keySource) read(ctx context.Context) error { return s.install(s.fetch(ctx)) }

// install parses a key set that was read, or returns the error of its
// read, and makes it current; on error the current set stays.
func (s *keySource) install(doc []byte, err error) error {
	var keys []*verifyKey
	var skipped []string
	if err == nil {
		keys, skipped, err = parseKeySet(doc)
	}
	if err != nil {
		return fmt.Errorf("jwtauth: key set %s: %w", s.name, err)
	}
	if len(skipped) > 0 {
		s.logger.Warn("weft: key set has keys that cannot verify tokens; they are ignored", "jwks", s.name, "skipped", skipped)
	}
	s.current.Store(newSnapshot(keys, s.current.Load()))
	return nil
}

// loop reads the key set on schedule until ctx ends. A failed scheduled
// read is retried after the minimum interval, doubling up to the refresh
// interval.
func (s *keySource) loop(ctx context.Context) {
	defer close(s.done)
	every, minEvery := s.cfg.refreshInterval(), s.cfg.minRefreshInterval()
	next := time.Duration(0) // a URL is fetched at once
	if s.cfg.File != "" {
		next = every
	}
	retry := minEvery
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.after(next):
		}
		s.mu.Lock()
		ch := s.startRead(ctx)
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
		if s.lastError() == nil {
			next, retry = every, minEvery
		} else {
			next, retry = retry, min(2*retry, every)
		}
	}
}

// startRead starts a read of the key set unless one is running, and
// returns a channel closed when the running read ends. s.mu is held.
func (s *keySource) startRead(ctx context.Context) <-chan struct{} {
	if s.running != nil {
		return s.running
	}
	ch := make(chan struct{})
	s.running, s.lastRead = ch, s.now()
	s.reads.Add(1)
	go func() {
		defer s.reads.Done()
		rctx, cancel := context.WithTimeout(ctx, s.cfg.timeout())
		err := s.read(rctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("weft: could not read a key set; the keys read last stay in use", "jwks", s.name, "err", err)
		}
		s.mu.Lock()
		s.lastErr, s.running = err, nil
		s.mu.Unlock()
		close(ch)
	}()
	return ch
}

// refresh asks for a read now, unless one ran within the minimum
// interval, and returns a channel closed when the read in progress (the
// new one, or one already running) ends; nil when no read may start now.
func (s *keySource) refresh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil && !s.lastRead.IsZero() && s.now().Sub(s.lastRead) < s.cfg.minRefreshInterval() {
		return nil
	}
	if s.ctx.Err() != nil {
		return nil
	}
	return s.startRead(s.ctx)
}

// lastError returns the error of the last read, nil after a good one.
func (s *keySource) lastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// acquire adds an owner.
func (s *keySource) acquire() {
	s.mu.Lock()
	s.refs++
	s.mu.Unlock()
}

// release drops an owner; the last one stops the loop and any read, and
// waits for them.
func (s *keySource) release() {
	s.mu.Lock()
	s.refs--
	last := s.refs == 0
	s.mu.Unlock()
	if !last {
		return
	}
	s.stop()
	<-s.done
	s.reads.Wait()
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
}
