package discovery

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// memberlist never contacts a member again once it declared it dead, and
// joins seeds only when told to. After a partition each side would then
// stay alone for good. The healer closes that gap the way Serf's
// reconnect loop does: every Timing.ReconnectInterval, jittered, it
// re-joins the seeds it does not see alive (names resolved anew each
// time) and the members it saw die within Timing.ReconnectTimeout. One
// successful exchange of state is enough: each side learns it was
// declared dead, refutes, and gossip carries the news to everyone else.
//
// Seeds are watched even when nobody died: members started together can
// join in separate groups (A with B while C joins D), which no death
// would ever reveal, and every group holds a seed the others miss. A
// round in which nobody died and every seed address last resolved is
// alive sends nothing and resolves nothing; a seed address not seen
// alive for Timing.ReconnectTimeout is given up until a later resolution
// no longer holds it. Seed host names are resolved again every
// resolveEvery rounds even then: a name's records change (the pods
// behind a Kubernetes headless Service), and members that each found
// only themselves under the name when they started meet once it lists
// them all.

// maxReconnects bounds the attempts in flight at once, so that a member
// that saw many others die does not flood the network.
const maxReconnects = 4

// resolveEvery is how many intervals may pass without seed host names
// being resolved again: 30 s with the lan preset.
const resolveEvery = 15

// lostPeer is a member seen dead (not left), to be tried again.
type lostPeer struct {
	addr  string
	since time.Time
}

type healer struct {
	interval time.Duration
	timeout  time.Duration // how long a lost member is tried
	seeds    []string
	logger   *slog.Logger
	count    *atomic.Uint64

	// mu guards the members seen dead and the attempts in flight. The
	// catalog calls died and back holding its own lock, so nothing may
	// ask the catalog while holding mu.
	mu       sync.Mutex
	lost     map[string]lostPeer // by node name
	inflight map[string]bool     // by address

	// seedMu guards what the last resolution of the seeds found. idle
	// asks the catalog while holding it; the catalog never takes it.
	seedMu    sync.Mutex
	seedAddrs map[string]time.Time // last resolved; when first missed, zero while alive
	names     bool                 // some seed is a host name, not an address
	resolved  time.Time            // when the seeds were last resolved

	ctx    context.Context // ends at shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newHealer(t Timing, seeds []string, logger *slog.Logger, count *atomic.Uint64) *healer {
	ctx, cancel := context.WithCancel(context.Background())
	names := false
	for _, s := range seeds {
		host, _, _ := net.SplitHostPort(s)
		names = names || net.ParseIP(host) == nil
	}
	return &healer{
		names:    names,
		interval: t.ReconnectInterval,
		timeout:  t.ReconnectTimeout,
		seeds:    seeds,
		logger:   logger,
		count:    count,
		lost:     make(map[string]lostPeer),
		inflight: make(map[string]bool),
		ctx:      ctx,
		cancel:   cancel,
	}
}

// died records that name, at addr, was declared dead. Called under the
// catalog's lock; never blocks.
func (h *healer) died(name, addr string, now time.Time) {
	if addr == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lost[name] = lostPeer{addr: addr, since: now}
}

// back records that name is alive again, or left for good. Called under
// the catalog's lock; never blocks.
func (h *healer) back(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.lost, name)
}

// start runs rounds every interval, jittered, until shutdown. others
// returns how many other members are alive, aliveAt whether the member
// at an address (this one included) is alive, alive the addresses of
// all of them.
func (h *healer) start(ml *memberlist.Memberlist, others func() int, aliveAt func(string) bool, alive func() map[string]bool) {
	h.wg.Add(1)
	go h.run(ml, others, aliveAt, alive)
}

func (h *healer) run(ml *memberlist.Memberlist, others func() int, aliveAt func(string) bool, alive func() map[string]bool) {
	defer h.wg.Done()
	for {
		wait := h.interval/2 + time.Duration(rand.Int64N(int64(h.interval)))
		t := time.NewTimer(wait)
		select {
		case <-h.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if !h.idle(others(), aliveAt, time.Now()) {
			h.round(ml, alive())
		}
	}
}

// idle reports whether there is nothing to heal: nobody seen dead, others
// alive, every seed address last resolved alive or given up, and seed
// names resolved within resolveEvery intervals. It allocates nothing.
func (h *healer) idle(others int, aliveAt func(string) bool, now time.Time) bool {
	h.mu.Lock()
	lost := len(h.lost)
	h.mu.Unlock()
	if lost > 0 || others == 0 {
		return false
	}
	h.seedMu.Lock()
	defer h.seedMu.Unlock()
	if h.seedAddrs == nil && len(h.seeds) > 0 {
		return false // not resolved yet
	}
	if h.names && now.Sub(h.resolved) >= resolveEvery*h.interval {
		return false
	}
	idle := true
	for a, missed := range h.seedAddrs {
		switch {
		case aliveAt(a):
			h.seedAddrs[a] = time.Time{}
		case missed.IsZero():
			h.seedAddrs[a] = now
			idle = false
		case now.Sub(missed) <= h.timeout:
			idle = false
		}
	}
	return idle
}

// round starts an attempt for each seed address and lost member not
// seen alive, up to maxReconnects in flight.
func (h *healer) round(ml *memberlist.Memberlist, alive map[string]bool) {
	var resolved []string
	for _, seed := range h.seeds {
		ctx, cancel := context.WithTimeout(h.ctx, h.interval)
		addrs, err := resolveSeed(ctx, seed)
		cancel()
		if err != nil {
			h.logger.Debug("discovery: reconnect: seed does not resolve", "seed", seed, "err", err)
			continue
		}
		resolved = append(resolved, addrs...)
	}
	now := time.Now()
	h.seedMu.Lock()
	seedAddrs := make(map[string]time.Time, len(resolved))
	var targets []string
	for _, a := range resolved {
		missed := h.seedAddrs[a]
		switch {
		case alive[a]:
			missed = time.Time{}
		case missed.IsZero():
			missed = now
			targets = append(targets, a)
		case now.Sub(missed) <= h.timeout:
			targets = append(targets, a)
		}
		seedAddrs[a] = missed
	}
	h.seedAddrs = seedAddrs
	h.resolved = now
	h.seedMu.Unlock()

	h.mu.Lock()
	for name, p := range h.lost {
		switch {
		case now.Sub(p.since) > h.timeout:
			delete(h.lost, name)
			h.logger.Info("discovery: gave up reconnecting to a dead member", "node", name, "addr", p.addr, "dead_for", now.Sub(p.since).Round(time.Second))
		case !alive[p.addr]:
			targets = append(targets, p.addr)
		}
	}
	rand.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	var start []string
	for _, a := range targets {
		if len(h.inflight) >= maxReconnects {
			break
		}
		if !h.inflight[a] {
			h.inflight[a] = true
			start = append(start, a)
		}
	}
	h.mu.Unlock()
	for _, a := range start {
		go h.attempt(ml, a)
	}
}

// attempt exchanges state with addr. An attempt is not interrupted by
// shutdown: memberlist's dial cannot be, and it lasts at most
// Timing.TCPTimeout.
func (h *healer) attempt(ml *memberlist.Memberlist, addr string) {
	defer func() {
		h.mu.Lock()
		delete(h.inflight, addr)
		h.mu.Unlock()
	}()
	if _, err := ml.Join([]string{addr}); err != nil {
		if h.ctx.Err() == nil {
			h.logger.Debug("discovery: reconnect failed", "addr", addr, "reason", joinReason(err))
		}
		return
	}
	h.count.Add(1)
	h.logger.Info("discovery: reconnected after a partition", "addr", addr)
}

// shutdown stops the healer's rounds. Attempts in flight end by
// themselves once memberlist shuts down.
func (h *healer) shutdown() {
	h.cancel()
	h.wg.Wait()
}
