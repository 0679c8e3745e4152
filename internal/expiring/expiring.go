// Package expiring is a bounded map whose entries expire: the cache of
// verified tokens and the cache of external authorization decisions.
package expiring

import (
	"sync"
	"time"
)

// Map maps keys to values until each value's expiry. It holds at most
// Max entries: when full, a Put first drops the expired entries, then,
// if still full, an arbitrary eighth of the rest. It is safe for
// concurrent use; Get takes a read lock only.
type Map[K comparable, V any] struct {
	max int
	mu  sync.RWMutex
	m   map[K]entry[V]
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns an empty Map of at most max entries.
func New[K comparable, V any](max int) *Map[K, V] {
	return &Map[K, V]{max: max, m: make(map[K]entry[V])}
}

// Get returns the value of k if it has not expired at now; an expired
// one is dropped.
func (c *Map[K, V]) Get(k K, now time.Time) (v V, ok bool) {
	c.mu.RLock()
	e, found := c.m[k]
	c.mu.RUnlock()
	if !found {
		return v, false
	}
	if !now.Before(e.expires) {
		c.Delete(k)
		return v, false
	}
	return e.v, true
}

// Put stores v under k until expires.
func (c *Map[K, V]) Put(k K, v V, expires, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for key, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) <= c.max*7/8 {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = entry[V]{v: v, expires: expires}
}

// Delete drops k.
func (c *Map[K, V]) Delete(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

// Len returns the number of entries, expired ones included until they
// are dropped.
func (c *Map[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
