package discovery

import (
	"bytes"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// peer is what the catalog knows about one other node: its membership as
// memberlist reported it, and its latest full entry.
type peer struct {
	name   string
	addr   string
	member bool // memberlist reported the node at least once
	alive  bool
	status Status
	since  time.Time // when it departed, or when its entry arrived before it joined

	metaSeen bool
	rawMeta  []byte
	meta     nodeMeta
	metaOK   bool

	entry *Instance // latest valid entry, immutable; nil if unknown
	wire  []byte    // entry's encoded form, relayed as is
	shown *Instance // what the current view shows; nil if absent

	repair repairState // fetching an entry gossip failed to deliver
}

// refresh recomputes what views show for p and reports whether it
// changed. p is shown only while alive, not leaving, and with its full
// entry known. A state carried in newer metadata than the entry (draining,
// typically) overrides the entry's, so that the change shows whichever
// gossip path brings it first.
func (p *peer) refresh() bool {
	var v *Instance
	switch {
	case !p.alive || p.entry == nil || (p.metaOK && p.meta.leaving):
	case p.metaOK && p.meta.seq > p.entry.Seq && p.meta.state != p.entry.State:
		v = p.shown
		if v == nil || v == p.entry || v.Seq != p.entry.Seq || v.State != p.meta.state {
			v = p.entry.Clone()
			v.State = p.meta.state
		}
	default:
		v = p.entry
	}
	changed := v != p.shown
	p.shown = v
	return changed
}

// catalog holds every entry a member knows and builds views from them.
// memberlist calls into it from its own goroutines, some under its own
// locks: catalog methods never call memberlist, never block, and copy
// whatever they keep.
type catalog struct {
	self      string
	retention time.Duration // how long departed nodes and orphan entries are kept
	logger    *slog.Logger
	dropped   *atomic.Uint64 // rejected entries and metadata
	publish   func(*View)    // hands each new view to the subscribers
	now       func() time.Time
	repairs   *repairer // nil: no repairs
	heal      *healer   // nil: no reconnects

	aliveCount atomic.Int64 // alive members, self included; read by the broadcast queue

	mu        sync.Mutex
	closed    bool
	local     *Instance // own entry, immutable
	localWire []byte
	leaving   bool
	selfAddr  string
	peers     map[string]*peer
	held      map[string]struct{} // every peer's wire: entries already held skip decoding
	version   uint64
	lastPrune time.Time
	view      atomic.Pointer[View]
}

func newCatalog(local *Instance, wire []byte, retention time.Duration, logger *slog.Logger, dropped *atomic.Uint64, publish func(*View)) *catalog {
	c := &catalog{
		self:      local.Node,
		retention: retention,
		logger:    logger,
		dropped:   dropped,
		publish:   publish,
		now:       time.Now,
		local:     local,
		localWire: wire,
		peers:     make(map[string]*peer),
		held:      make(map[string]struct{}),
	}
	c.aliveCount.Store(1)
	c.mu.Lock()
	c.rebuildLocked()
	c.mu.Unlock()
	return c
}

// current returns the latest view.
func (c *catalog) current() *View { return c.view.Load() }

// localEntry returns the own entry and its encoded form.
func (c *catalog) localEntry() (*Instance, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local, c.localWire
}

// setLocal installs a new own entry.
func (c *catalog) setLocal(in *Instance, wire []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.local, c.localWire = in, wire
	c.rebuildLocked()
}

// meta returns the node metadata describing the own entry.
func (c *catalog) meta() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return encodeMeta(nodeMeta{state: c.local.State, leaving: c.leaving, seq: c.local.Seq, service: c.local.Service})
}

// setLeaving marks the own node as leaving in its metadata.
func (c *catalog) setLeaving() {
	c.mu.Lock()
	c.leaving = true
	c.mu.Unlock()
}

// close stops view updates: memberlist may still deliver callbacks while
// it shuts down.
func (c *catalog) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

// nodeAlive records that memberlist reports name alive, with its address
// and metadata (on join and on metadata updates).
func (c *catalog) nodeAlive(name, addr string, meta []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if name == c.self {
		c.selfAddr = addr
		return
	}
	c.maybePruneLocked()
	p := c.peers[name]
	if p == nil {
		p = &peer{name: name}
		c.peers[name] = p
	}
	if !p.alive {
		c.aliveCount.Add(1)
	}
	p.member, p.alive, p.status, p.addr = true, true, StatusAlive, addr
	if c.heal != nil {
		c.heal.back(name)
	}
	if !p.metaSeen || !bytes.Equal(p.rawMeta, meta) {
		p.metaSeen, p.rawMeta = true, slices.Clone(meta)
		m, err := decodeMeta(meta)
		if err != nil {
			c.dropped.Add(1)
			c.logger.Warn("discovery: dropped unreadable node metadata", "node", name, "addr", addr, "err", err)
		}
		p.meta, p.metaOK = m, err == nil
	}
	c.refreshLocked(p)
}

// nodeGone records that memberlist reports name dead or left. Its entry
// leaves views at once.
func (c *catalog) nodeGone(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || name == c.self {
		return
	}
	p := c.peers[name]
	if p == nil {
		return
	}
	if p.alive {
		c.aliveCount.Add(-1)
	}
	p.alive = false
	p.status = StatusDead
	if p.metaOK && p.meta.leaving {
		p.status = StatusLeft
	}
	p.since = c.now()
	if c.heal != nil {
		if p.status == StatusDead {
			c.heal.died(name, p.addr, p.since)
		} else {
			c.heal.back(name)
		}
	}
	c.refreshLocked(p)
}

// aliveAddrs returns the addresses of the members seen alive, this one
// included.
func (c *catalog) aliveAddrs() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]bool, len(c.peers)+1)
	if c.selfAddr != "" {
		out[c.selfAddr] = true
	}
	for _, p := range c.peers {
		if p.alive {
			out[p.addr] = true
		}
	}
	return out
}

// aliveAt reports whether the member at addr, this one included, is
// alive. It allocates nothing.
func (c *catalog) aliveAt(addr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if addr == c.selfAddr {
		return true
	}
	for _, p := range c.peers {
		if p.alive && p.addr == addr {
			return true
		}
	}
	return false
}

// suspect records that this member's probe of name failed.
func (c *catalog) suspect(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.peers[name]; p != nil && p.alive {
		p.status = StatusSuspect
	}
}

// probed records that this member's probe of name succeeded.
func (c *catalog) probed(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.peers[name]; p != nil && p.alive {
		p.status = StatusAlive
	}
}

// mergeEntry takes one encoded entry from a peer. When the entry is news
// worth relaying (valid, about another node not known to have departed,
// and newer than what the catalog had) it returns the entry's node name;
// otherwise "".
func (c *catalog) mergeEntry(buf []byte, from string) (relay string) {
	// Push/pull states and relayed gossip repeat what a member already
	// holds; an entry held byte for byte is old news, not worth decoding.
	c.mu.Lock()
	_, held := c.held[string(buf)]
	held = held || bytes.Equal(buf, c.localWire)
	c.mu.Unlock()
	if held {
		return ""
	}
	in, err := decodeEntry(buf)
	if err != nil {
		c.dropped.Add(1)
		c.logger.Warn("discovery: dropped invalid catalog entry", "from", from, "err", err)
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || in.Node == c.self {
		// Peers relay our own entry back to us; we are its only author.
		return ""
	}
	c.maybePruneLocked()
	p := c.peers[in.Node]
	if p == nil {
		// The entry can overtake the membership gossip that announces
		// its node; keep it until the node shows up or retention ends.
		p = &peer{name: in.Node}
		c.peers[in.Node] = p
	}
	if p.entry != nil && in.Seq <= p.entry.Seq {
		return ""
	}
	if p.wire != nil {
		delete(c.held, string(p.wire))
	}
	p.entry, p.wire = in, slices.Clone(buf)
	c.held[string(p.wire)] = struct{}{}
	if !p.member {
		p.since = c.now()
	}
	c.refreshLocked(p)
	if p.alive || !p.member {
		return in.Node
	}
	return ""
}

// entries returns the encoded entries of every live node, own included,
// for a push/pull exchange.
func (c *catalog) entries() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]byte, 0, len(c.peers)+1)
	out = append(out, c.localWire)
	for _, p := range c.peers {
		if p.alive && p.entry != nil {
			out = append(out, p.wire)
		}
	}
	return out
}

// members lists every node memberlist reported, self included, sorted by
// name.
func (c *catalog) members() []Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Member, 0, len(c.peers)+1)
	out = append(out, Member{Name: c.self, Addr: c.selfAddr, Status: StatusAlive, Service: c.local.Service})
	for _, p := range c.peers {
		if !p.member {
			continue
		}
		m := Member{Name: p.name, Addr: p.addr, Status: p.status}
		if p.metaOK {
			m.Service = p.meta.service
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// refreshLocked rebuilds the view if p's visible instance changed, and
// notes whether p's entry lags behind its metadata.
func (c *catalog) refreshLocked(p *peer) {
	if p.refresh() {
		c.rebuildLocked()
	}
	if c.repairs != nil {
		c.repairs.track(p, c.now())
	}
}

// rebuildLocked publishes a new view of the own entry and every visible
// peer.
func (c *catalog) rebuildLocked() {
	shown := make([]*Instance, 0, len(c.peers)+1)
	shown = append(shown, c.local)
	for _, p := range c.peers {
		if p.shown != nil {
			shown = append(shown, p.shown)
		}
	}
	c.version++
	v := newView(c.version, shown)
	c.view.Store(v)
	if c.publish != nil {
		c.publish(v)
	}
}

// maybePruneLocked forgets departed nodes and orphan entries older than
// the retention. Keeping them that long lets a node wrongly declared dead
// reappear, with its entry, as soon as it refutes.
func (c *catalog) maybePruneLocked() {
	now := c.now()
	if now.Sub(c.lastPrune) < c.retention/4 {
		return
	}
	c.lastPrune = now
	for name, p := range c.peers {
		if !p.alive && now.Sub(p.since) > c.retention {
			delete(c.peers, name)
			if p.wire != nil {
				delete(c.held, string(p.wire))
			}
		}
	}
}
