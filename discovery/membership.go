package discovery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrClosed is returned by [Membership.Update] after Leave or Close.
var ErrClosed = errors.New("discovery: membership closed")

// Membership is this process's membership in a mesh: a gossip member that
// owns one catalog entry and learns everyone else's. All methods are safe
// for concurrent use.
type Membership struct {
	name    string
	addr    string
	limit   int
	timing  Timing
	ml      *memberlist.Memberlist
	cat     *catalog
	queue   *memberlist.TransmitLimitedQueue
	del     *delegate
	notify  *notifier
	repair  *repairer
	heal    *healer
	dropPkt atomic.Uint64
	dropEnt atomic.Uint64
	repairs atomic.Uint64
	heals   atomic.Uint64
	closing atomic.Bool // quiets memberlist's logs during shutdown

	updateMu sync.Mutex  // serializes Update, Leave and Close
	closed   atomic.Bool // set, under updateMu, by Leave or Close
}

// Start creates a member bound to cfg.BindAddr and, when cfg.Join lists
// seeds, joins the mesh through them, retrying with backoff until one
// answers or ctx ends; the error then is a [*JoinError] naming every seed.
// An invalid Config is reported before anything starts. When Start fails,
// nothing it started is left running.
func Start(ctx context.Context, cfg Config) (*Membership, error) {
	s, err := cfg.check()
	if err != nil {
		return nil, fmt.Errorf("discovery: config: %w", err)
	}
	local := s.Local.Clone()
	if local.Node == "" {
		if !ValidService(local.Service) {
			return nil, fmt.Errorf("discovery: config: Local: service %q: want a lowercase DNS label of 1-%d characters", local.Service, MaxServiceLen)
		}
		local.Node = nodeName(local.Service)
	}
	if err := validateInstance(local); err != nil {
		return nil, fmt.Errorf("discovery: config: Local: %w", err)
	}
	canonicalize(local)
	wire, err := encodeEntry(local)
	if err != nil {
		return nil, fmt.Errorf("discovery: config: Local: %w", err)
	}
	if len(wire) > s.entryLimit {
		return nil, fmt.Errorf("discovery: config: Local: %w", tooLarge(len(wire), s.entryLimit))
	}
	if s.Key == nil {
		s.Logger.Warn("discovery: gossip is not encrypted, set mesh.gossipKey", "mesh", s.MeshName)
	}

	m := &Membership{name: local.Node, limit: s.entryLimit, timing: s.Timing}
	m.notify = newNotifier(nil)
	m.cat = newCatalog(local, wire, retention(s.Timing), s.Logger, &m.dropEnt, m.notify.publish)
	m.repair = newRepairer(s.Timing)
	m.cat.repairs = m.repair
	m.heal = newHealer(s.Timing, s.Join, s.Logger, &m.heals)
	m.cat.heal = m.heal
	m.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return int(m.cat.aliveCount.Load()) },
		RetransmitMult: s.Timing.RetransmitMult,
	}
	m.del = &delegate{cat: m.cat, queue: m.queue, droppedPkt: &m.dropPkt}

	mc := memberlistConfig(s, local.Node)
	mc.Delegate = m.del
	mc.Events = m.del
	mc.Ping = m.del
	mc.Logger = log.New(&logAdapter{logger: s.Logger, dropped: &m.dropPkt, closing: &m.closing, suspect: m.cat.suspect}, "", 0)
	if s.Faults != nil {
		t, err := newFaultyTransport(s.Faults, s.bindIP, s.bindPort, mc.Logger)
		if err != nil {
			m.notify.close()
			return nil, fmt.Errorf("discovery: start on %s: %w", s.BindAddr, err)
		}
		mc.Transport = t
		if mc.BindPort == 0 {
			mc.BindPort = t.port()
			if s.advIP == "" {
				mc.AdvertisePort = t.port()
			}
		}
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		if mc.Transport != nil {
			_ = mc.Transport.Shutdown()
		}
		m.notify.close()
		return nil, fmt.Errorf("discovery: start on %s: %w", s.BindAddr, err)
	}
	m.ml = ml
	go m.repair.run(m.cat, ml, func() { m.repairs.Add(1) })
	// memberlist writes the port it bound back into its config.
	m.addr = net.JoinHostPort(s.bindIP, strconv.Itoa(mc.BindPort))

	if len(s.Join) > 0 {
		if err := join(ctx, ml, s.Join, s.JoinTimeout, s.Logger); err != nil {
			m.Close()
			return nil, err
		}
	}
	// The join's push/pull gave our entry to the seed only; gossip takes
	// it to everyone else.
	m.queue.QueueBroadcast(&entryBroadcast{node: local.Node, msg: wire})
	m.heal.start(ml, func() int { return int(m.cat.aliveCount.Load()) - 1 }, m.cat.aliveAt, m.cat.aliveAddrs)
	return m, nil
}

// memberlistConfig translates settings to memberlist's Config, starting
// from its LAN preset.
func memberlistConfig(s *settings, name string) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = name
	mc.Label = s.MeshName
	mc.BindAddr, mc.BindPort = s.bindIP, s.bindPort
	mc.AdvertiseAddr, mc.AdvertisePort = s.advIP, s.advPort
	if s.advIP == "" {
		mc.AdvertisePort = s.bindPort
	}
	if s.Key != nil {
		mc.SecretKey = append([]byte(nil), s.Key...)
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
	t := s.Timing
	mc.GossipInterval = t.GossipInterval
	mc.ProbeInterval = t.ProbeInterval
	mc.ProbeTimeout = t.ProbeTimeout
	mc.PushPullInterval = t.PushPullInterval
	mc.TCPTimeout = t.TCPTimeout
	mc.SuspicionMult = t.SuspicionMult
	mc.RetransmitMult = t.RetransmitMult
	// Keep gossiping to a dead node as long as a push/pull would take to
	// tell it, as memberlist's presets do.
	mc.GossipToTheDeadTime = t.PushPullInterval
	mc.UDPBufferSize = udpBufferSize
	// Compressing every gossip packet and push/pull costs more CPU than
	// the bytes it saves are worth on a LAN; across a WAN bytes cost more.
	// A member reads compressed messages either way.
	mc.EnableCompression = t.Preset == PresetWAN
	return mc
}

// retention is how long the catalog remembers departed nodes: long
// enough for a node wrongly declared dead to refute and come back with
// its entry, and for stale gossip about it to die out.
func retention(t Timing) time.Duration {
	return max(2*t.PushPullInterval, 30*time.Second)
}

// nodeName returns "<service>-<8 random hex digits>".
func nodeName(service string) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return service + "-" + hex.EncodeToString(b[:])
}

func tooLarge(size, limit int) error {
	return fmt.Errorf("entry is %d bytes encoded, the limit is %d bytes (one gossip packet): shorten labels or drop endpoints", size, limit)
}

// Addr returns the host:port the member's gossip is bound to, with the
// real port when port 0 was asked for.
func (m *Membership) Addr() string { return m.addr }

// Timing returns the timing the member runs with: its Config.Timing
// with the preset's values in its zero fields.
func (m *Membership) Timing() Timing { return m.timing }

// Name returns this member's node name.
func (m *Membership) Name() string { return m.name }

// Local returns a copy of this member's entry.
func (m *Membership) Local() *Instance {
	in, _ := m.cat.localEntry()
	return in.Clone()
}

// Update changes this member's entry: fn edits a copy, then Update bumps
// Seq, validates the result and installs it locally, gossips it, and
// updates the membership metadata. If fn changes Node, or the entry is
// invalid or too large for one gossip packet, Update returns an error and
// the entry stays as it was. Update does not wait for the change to reach
// other members. It must not be called from fn, and returns [ErrClosed]
// after Leave or Close.
func (m *Membership) Update(fn func(*Instance)) error {
	m.updateMu.Lock()
	defer m.updateMu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	old, _ := m.cat.localEntry()
	in := old.Clone()
	fn(in)
	if in.Node != old.Node {
		return fmt.Errorf("discovery: update: Node cannot change (from %q to %q)", old.Node, in.Node)
	}
	in.Seq = old.Seq + 1
	if err := validateInstance(in); err != nil {
		return fmt.Errorf("discovery: update: %w", err)
	}
	canonicalize(in)
	wire, err := encodeEntry(in)
	if err != nil {
		return fmt.Errorf("discovery: update: %w", err)
	}
	if len(wire) > m.limit {
		return fmt.Errorf("discovery: update: %w", tooLarge(len(wire), m.limit))
	}
	m.cat.setLocal(in, wire)
	m.queue.QueueBroadcast(&entryBroadcast{node: in.Node, msg: wire})
	// UpdateNode re-announces our metadata in an alive message; it would
	// wait until that message is fully disseminated, which Update does
	// not need: the wait times out at once and the message stays queued.
	_ = m.ml.UpdateNode(time.Nanosecond)
	return nil
}

// View returns the current catalog snapshot. It never blocks.
func (m *Membership) View() *View { return m.cat.current() }

// Subscribe calls fn with the current view right away, then with each new
// view. All calls for one Membership come from a single goroutine, one at
// a time, in order of Version; when views change faster than fn returns,
// fn sees only the latest, so fn must not block for long, and must not
// call Leave or Close. cancel stops further calls; a call already in
// progress may still be running when it returns, and fn may cancel itself.
// Calling cancel more than once is harmless. Once Leave or Close has
// returned, fn is no longer called.
func (m *Membership) Subscribe(fn func(*View)) (cancel func()) {
	return m.notify.subscribe(fn)
}

// Members lists the members this one knows, itself included, sorted by
// name. Departed members stay listed, as dead or left, for a while.
func (m *Membership) Members() []Member { return m.cat.members() }

// Stats returns the member's gossip counters.
func (m *Membership) Stats() Stats {
	v := m.cat.current()
	n := 0
	for _, s := range v.Services() {
		n += len(v.Instances(s))
	}
	return Stats{
		Members:        m.ml.NumMembers(),
		Instances:      n,
		ViewVersion:    v.Version(),
		Broadcasts:     m.queue.NumQueued(),
		DroppedPackets: m.dropPkt.Load(),
		DroppedEntries: m.dropEnt.Load(),
		Repairs:        m.repairs.Load(),
		Reconnects:     m.heals.Load(),
		HealthScore:    m.ml.GetHealthScore(),
	}
}

// Leave leaves the mesh gracefully: it marks this member as leaving (the
// others drop its entry from their views as soon as they hear it),
// announces the departure and waits until the announcement went out or
// ctx's deadline passes (at most 20 gossip intervals when ctx has no
// deadline), then shuts the member down. The member is shut down even
// when Leave returns an error. Leave after Leave or Close does nothing.
func (m *Membership) Leave(ctx context.Context) error {
	m.updateMu.Lock()
	defer m.updateMu.Unlock()
	if m.closed.Load() {
		return nil
	}
	m.repair.shutdown() // no exchanges after we announced leaving
	m.heal.shutdown()
	var errs []error
	if err := ctx.Err(); err == nil {
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(20 * m.timing.GossipInterval)
		}
		m.cat.setLeaving()
		// Waiting for the leaving flag to spread first keeps memberlist's
		// leave message from replacing it in the broadcast queue.
		_ = m.ml.UpdateNode(max(time.Until(deadline)/2, time.Nanosecond))
		if err := m.ml.Leave(max(time.Until(deadline), time.Nanosecond)); err != nil {
			errs = append(errs, fmt.Errorf("discovery: leave: %w", err))
		}
	} else {
		errs = append(errs, fmt.Errorf("discovery: leave: %w", err))
	}
	errs = append(errs, m.shutdown())
	return errors.Join(errs...)
}

// Close stops the member at once, without leaving: the others notice only
// when their probes fail, as after a crash. Use it in tests and fault
// drills; use Leave otherwise. Close after Leave or Close does nothing.
func (m *Membership) Close() error {
	m.updateMu.Lock()
	defer m.updateMu.Unlock()
	if m.closed.Load() {
		return nil
	}
	return m.shutdown()
}

// shutdown stops memberlist and the notifier. The caller holds updateMu.
func (m *Membership) shutdown() error {
	m.closed.Store(true)
	m.closing.Store(true)
	m.repair.shutdown()
	m.heal.shutdown()
	err := m.ml.Shutdown()
	m.cat.close()
	m.notify.close()
	if err != nil {
		return fmt.Errorf("discovery: shutdown: %w", err)
	}
	return nil
}
