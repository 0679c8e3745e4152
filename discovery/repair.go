package discovery

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// Gossip is probabilistic: each broadcast goes to a few random members a
// few times, and in a small mesh an entry can miss a member until the
// next periodic push/pull, tens of seconds later. A member's metadata,
// spread by memberlist's own membership gossip, carries its entry's Seq,
// so a member can tell when the entry it holds for a peer lags behind,
// or is missing. The repairer then exchanges state (push/pull) with that
// peer directly, whose state always holds its own latest entry.

// repairState is the per-peer bookkeeping, guarded by the catalog's lock.
type repairState struct {
	lagging bool
	due     time.Time     // next attempt
	backoff time.Duration // wait after the next attempt
}

// repairer runs the exchanges on its own goroutine: memberlist may not be
// called from its callbacks, where lags are detected.
type repairer struct {
	grace   time.Duration // how long gossip gets to deliver first
	ceiling time.Duration // longest wait between attempts for one peer
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newRepairer(t Timing) *repairer {
	return &repairer{
		grace:   3 * t.GossipInterval,
		ceiling: t.PushPullInterval,
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// track updates p's bookkeeping after a change. Called with the
// catalog's lock held; never blocks.
func (r *repairer) track(p *peer, now time.Time) {
	lagging := p.alive && p.metaOK && !p.meta.leaving && p.addr != "" &&
		(p.entry == nil || p.meta.seq > p.entry.Seq)
	switch {
	case !lagging:
		p.repair = repairState{}
	case !p.repair.lagging:
		p.repair = repairState{lagging: true, due: now.Add(r.grace), backoff: r.grace}
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// dueRepair returns the address of one peer to repair now and pushes its
// next attempt back, or "" if none is due; next is when the earliest
// other attempt is due (zero if none). One exchange at a time: a push/pull
// brings every entry the peer holds, which often mends other lags too, so
// the next due peer is chosen only after it.
func (c *catalog) dueRepair() (addr string, next time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for _, p := range c.peers {
		rs := &p.repair
		if !rs.lagging {
			continue
		}
		if addr == "" && !rs.due.After(now) {
			addr = p.addr
			rs.due = now.Add(rs.backoff)
			rs.backoff = min(2*rs.backoff, c.repairs.ceiling)
		}
		if next.IsZero() || rs.due.Before(next) {
			next = rs.due
		}
	}
	return addr, next
}

// run performs repairs until stopped. Each exchange takes at most
// Timing.TCPTimeout.
func (r *repairer) run(c *catalog, ml *memberlist.Memberlist, count func()) {
	defer close(r.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-r.kick:
		case <-timer.C:
		}
		for {
			addr, next := c.dueRepair()
			if addr == "" {
				if !next.IsZero() {
					timer.Reset(max(time.Until(next), time.Millisecond))
				}
				break
			}
			select {
			case <-r.stop:
				return
			default:
			}
			// Join with a current member is a plain push/pull exchange.
			_, _ = ml.Join([]string{addr})
			count()
		}
	}
}

// shutdown stops run and waits for it, including an exchange in
// progress.
func (r *repairer) shutdown() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}
