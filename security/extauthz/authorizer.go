package extauthz

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/weftmesh/weft/internal/expiring"
)

// maxCached bounds the decisions an Authorizer remembers.
const maxCached = 10_000

// closeGrace is how long a closed Authorizer still checks requests that
// picked it up before it was replaced.
const closeGrace = time.Second

// Options are what an [Authorizer] needs beside its Config and Checker.
type Options struct {
	// Now returns the current time. If nil, time.Now. Tests set it.
	Now func() time.Time
}

// Authorizer asks a server about requests, within the timeout, applying
// the failure mode and caching what the server allows. It is safe for
// concurrent use.
type Authorizer struct {
	cfg     Config
	checker Checker
	headers map[string]bool // lower-case names sent; nil: all
	now     func() time.Time

	cache *expiring.Map[[sha256.Size]byte, Decision]

	mu            sync.Mutex
	inFlight      int
	closing       bool          // Close was called
	graceOver     bool          // one timeout has passed since
	checkerClosed bool          // the checker is closed
	closed        chan struct{} // closed once the checker is closed
}

// New validates cfg and returns an Authorizer that asks checker. The
// Authorizer owns checker: Close closes it.
func New(cfg Config, checker Checker, opts Options) (*Authorizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &Authorizer{cfg: cfg, checker: checker, now: opts.Now, cache: expiring.New[[sha256.Size]byte, Decision](maxCached), closed: make(chan struct{})}
	if len(cfg.Headers) > 0 {
		a.headers = make(map[string]bool, len(cfg.Headers))
		for _, h := range cfg.Headers {
			a.headers[strings.ToLower(h)] = true
		}
	}
	return a, nil
}

// Config returns the configuration a was built from.
func (a *Authorizer) Config() Config { return a.cfg }

// Headers returns the headers of a request to send to the server: names
// in lower case, repeated values joined with ",", pseudo-headers left out,
// only those the Config lists when it lists any. h is an HTTP header or
// gRPC metadata; it is not kept.
func (a *Authorizer) Headers(h map[string][]string) map[string]string {
	out := make(map[string]string, min(len(h), 32))
	for k, vals := range h {
		if strings.HasPrefix(k, ":") || len(vals) == 0 {
			continue
		}
		lk := strings.ToLower(k)
		if a.headers != nil && !a.headers[lk] {
			continue
		}
		v := strings.Join(vals, ",")
		if prev, ok := out[lk]; ok {
			v = prev + "," + v
		}
		out[lk] = v
	}
	return out
}

// Authorize decides about r: from the cache, when the server allowed a
// decision for the same request to be reused and it has not expired; from
// the server, asked within the Config's timeout and ctx; or from the
// failure mode when the server gives no usable answer. It never blocks
// past ctx's deadline or the timeout.
func (a *Authorizer) Authorize(ctx context.Context, r *Request) Decision {
	var key [sha256.Size]byte
	if a.cfg.CacheTTL > 0 {
		key = cacheKey(r)
		if d, ok := a.lookup(key); ok {
			return d
		}
	}
	if !a.enter() {
		return a.failed(errors.New("extauthz: the authorizer was closed"))
	}
	cctx, cancel := context.WithTimeout(ctx, a.cfg.timeout())
	ans, err := a.checker.Check(cctx, r)
	cancel()
	a.leave()
	if err == nil {
		err = checkAnswer(ans)
	}
	if err != nil {
		if ctx.Err() != nil && cctx.Err() != nil {
			err = fmt.Errorf("%w (the request ended first)", err)
		}
		return a.failed(err)
	}
	d := Decision{Answer: ans}
	if a.cfg.CacheTTL > 0 && ans.CacheFor > 0 {
		a.store(key, d, min(ans.CacheFor, a.cfg.CacheTTL))
	}
	return d
}

// failed returns the failure mode's decision for a check that failed.
func (a *Authorizer) failed(err error) Decision {
	return Decision{Answer: Answer{Allow: a.cfg.FailureMode == FailAllow}, Failed: true, Err: err}
}

// checkAnswer refuses an answer whose headers or status could not be
// applied, as a server answering garbage.
func checkAnswer(ans Answer) error {
	if !ans.Allow && ans.Status != 0 && (ans.Status < 400 || ans.Status > 599) {
		return fmt.Errorf("extauthz: the server denied with status %d, which is not an HTTP error status", ans.Status)
	}
	for _, hs := range [][]Header{ans.RequestHeaders, ans.ResponseHeaders} {
		for _, h := range hs {
			if !httpguts.ValidHeaderFieldName(h.Name) || !httpguts.ValidHeaderFieldValue(h.Value) {
				return fmt.Errorf("extauthz: the server asked for header %q with an invalid name or value", truncate(h.Name))
			}
			if reserved(h.Name) {
				return fmt.Errorf("extauthz: the server asked to set header %q, which it may not change", h.Name)
			}
		}
	}
	for _, name := range ans.RemoveHeaders {
		if !httpguts.ValidHeaderFieldName(name) || reserved(name) {
			return fmt.Errorf("extauthz: the server asked to remove header %q, which it may not change", truncate(name))
		}
	}
	return nil
}

// reserved reports headers an authorization server may not add or
// remove: those that frame the message, and the mesh's own.
func reserved(name string) bool {
	switch strings.ToLower(name) {
	case "host", "content-length", "transfer-encoding", "connection", "te", "upgrade", "trailer",
		"weft-source", "weft-timeout", "weft-retry-owner":
		return true
	}
	return strings.HasPrefix(name, ":")
}

// cacheKey digests everything a server is told about a request.
func cacheKey(r *Request) [sha256.Size]byte {
	var b strings.Builder
	for _, s := range []string{r.Service, r.Protocol, r.Method, r.Path, r.Query, r.Host, r.Scheme,
		r.Source.Principal, r.Source.Service, r.Claims.Digest()} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Headers)) {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(r.Headers[k])
		b.WriteByte(0)
	}
	return sha256.Sum256([]byte(b.String()))
}

func (a *Authorizer) lookup(key [sha256.Size]byte) (Decision, bool) {
	d, ok := a.cache.Get(key, a.now())
	d.Cached = ok
	return d, ok
}

func (a *Authorizer) store(key [sha256.Size]byte, d Decision, ttl time.Duration) {
	now := a.now()
	a.cache.Put(key, d, now.Add(ttl), now)
}

// Cached returns the number of decisions remembered.
func (a *Authorizer) Cached() int { return a.cache.Len() }

// enter counts a check in; it fails once the checker is closed.
func (a *Authorizer) enter() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.checkerClosed {
		return false
	}
	a.inFlight++
	return true
}

func (a *Authorizer) leave() {
	a.mu.Lock()
	a.inFlight--
	a.mu.Unlock()
	a.maybeCloseChecker()
}

// maybeCloseChecker closes the checker once Close was called, its grace
// period is over and no check is in flight.
func (a *Authorizer) maybeCloseChecker() {
	a.mu.Lock()
	if !a.graceOver || a.inFlight > 0 || a.checkerClosed {
		a.mu.Unlock()
		return
	}
	a.checkerClosed = true
	a.mu.Unlock()
	a.checker.Close()
	close(a.closed)
}

// Close stops a from asking its server. A request that picked a up just
// before a policy change replaced it is still checked: the checker stays
// open for closeGrace (or one timeout, when shorter), and until the checks
// in flight finish; then it is closed, and later calls to Authorize fail
// over to the failure mode.
// Close does not wait; Done tells when the checker is closed. It is
// idempotent.
func (a *Authorizer) Close() {
	if a == nil {
		return
	}
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return
	}
	a.closing = true
	a.mu.Unlock()
	time.AfterFunc(min(a.cfg.timeout(), closeGrace), func() {
		a.mu.Lock()
		a.graceOver = true
		a.mu.Unlock()
		a.maybeCloseChecker()
	})
}

// Stop closes a for good, without the grace period of Close: it waits for
// the checks in flight (each bounded by the timeout) and closes the
// checker. Use it when nothing can call Authorize any more, as when the
// node stops. It is idempotent, and may follow Close.
func (a *Authorizer) Stop() {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.closing, a.graceOver = true, true
	a.mu.Unlock()
	a.maybeCloseChecker()
	<-a.closed
}

// Done returns a channel closed once Close or Stop has closed the checker.
func (a *Authorizer) Done() <-chan struct{} { return a.closed }
