package engine

import (
	"context"
	"sync"
)

// maxMirrors bounds the mirrored requests in flight from one client: when
// the mirror subset is slow, copies are dropped rather than piling up.
const maxMirrors = 64

// Mirrors tracks the mirrored copies of calls (HTTP requests or gRPC
// calls) in flight from one engine, at most 64, so that closing the
// engine cancels and waits for them. The zero value is ready to use.
type Mirrors struct {
	mu      sync.Mutex
	closed  bool
	next    uint64
	cancels map[uint64]context.CancelFunc // at most maxMirrors
	wg      sync.WaitGroup
}

// Add registers a mirrored request, or reports false when the client is
// closed or too many are in flight. done must be called when it ends; it
// calls cancel.
func (m *Mirrors) Add(cancel context.CancelFunc) (done func(), ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || len(m.cancels) >= maxMirrors {
		return nil, false
	}
	if m.cancels == nil {
		m.cancels = make(map[uint64]context.CancelFunc)
	}
	id := m.next
	m.next++
	m.cancels[id] = cancel
	m.wg.Add(1)
	return func() {
		m.mu.Lock()
		delete(m.cancels, id)
		m.mu.Unlock()
		cancel()
		m.wg.Done()
	}, true
}

// Close cancels the mirrored requests in flight, waits for them, and
// refuses new ones.
func (m *Mirrors) Close() {
	m.mu.Lock()
	m.closed = true
	for _, cancel := range m.cancels {
		cancel()
	}
	m.mu.Unlock()
	m.wg.Wait()
}
