package limit

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// callerShards is the number of independently locked parts of a caller
// table; a power of two. Sixteen keeps lock contention low on the cores a
// service instance typically has, while the per-shard bound stays large.
const callerShards = 16

// callers holds one token bucket per caller identity, at most about max of
// them: each shard forgets its least recently seen caller to make room for
// a new one. A forgotten caller that returns starts with a full bucket, so
// an attacker rotating identities gets at most one burst per identity, and
// memory stays bounded however many identities it uses.
type callers struct {
	seed   maphash.Seed
	shards [callerShards]callerShard
}

type callerShard struct {
	mu      sync.Mutex
	max     int
	entries map[string]*callerEntry
	// head is the most recently seen caller, tail the least; both nil
	// when the shard is empty.
	head, tail *callerEntry
	_          [40]byte // keep shards on separate cache lines
}

type callerEntry struct {
	key        string
	bucket     *rate.Limiter
	gen        uint64 // the bucket configuration bucket was last set to
	prev, next *callerEntry
}

func newCallers(maxCallers int) *callers {
	c := &callers{seed: maphash.MakeSeed()}
	per := max(1, (maxCallers+callerShards-1)/callerShards)
	for i := range c.shards {
		c.shards[i].max = per
		c.shards[i].entries = make(map[string]*callerEntry)
	}
	return c
}

// bucket returns caller's token bucket, set to b (whose generation is
// gen), creating it when the caller is new. The bucket stays valid after
// the caller is forgotten; it is then simply no longer shared.
func (c *callers) bucket(caller string, b *Bucket, gen uint64, now time.Time) *rate.Limiter {
	s := &c.shards[maphash.String(c.seed, caller)&(callerShards-1)]
	s.mu.Lock()
	e := s.entries[caller]
	if e == nil {
		e = s.insert(caller)
		e.bucket = rate.NewLimiter(rate.Limit(b.RPS), b.burst())
		e.gen = gen
	} else {
		s.moveToFront(e)
		if e.gen != gen {
			// The policy changed: keep the caller's tokens, new rate.
			e.bucket.SetLimitAt(now, rate.Limit(b.RPS))
			e.bucket.SetBurstAt(now, b.burst())
			e.gen = gen
		}
	}
	l := e.bucket
	s.mu.Unlock()
	return l
}

// len returns how many callers are remembered.
func (c *callers) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

// reset forgets every caller.
func (c *callers) reset() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.entries)
		s.head, s.tail = nil, nil
		s.mu.Unlock()
	}
}

// insert adds a new entry for key at the front, evicting the least
// recently seen caller if the shard is full. s.mu is held.
func (s *callerShard) insert(key string) *callerEntry {
	if len(s.entries) >= s.max {
		old := s.tail
		s.unlink(old)
		delete(s.entries, old.key)
	}
	// Clone: the key may point into a request's memory, which the table
	// must not keep alive.
	e := &callerEntry{key: strings.Clone(key)}
	s.entries[e.key] = e
	s.pushFront(e)
	return e
}

func (s *callerShard) moveToFront(e *callerEntry) {
	if s.head == e {
		return
	}
	s.unlink(e)
	s.pushFront(e)
}

func (s *callerShard) pushFront(e *callerEntry) {
	e.prev, e.next = nil, s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *callerShard) unlink(e *callerEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}
