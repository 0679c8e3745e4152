package transport

import (
	"context"
	"io"
	"sync"
	"time"
)

// maxMirrors bounds the mirrored requests in flight from one client: when
// the mirror subset is slow, copies are dropped rather than piling up.
const maxMirrors = 64

// mirrorTimeout bounds one mirrored request.
const mirrorTimeout = 10 * time.Second

// Mirrors tracks the mirrored requests (HTTP requests or gRPC calls) in
// flight from one client, at most 64, so that closing the client cancels
// and waits for them. The zero value is ready to use.
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

// mirror sends a copy of the call's request to an endpoint of subset and
// discards the answer. It never blocks the call: when too many copies are
// in flight, this one is dropped.
func (r *Router) mirror(d *destination, subset string, c *call) {
	picker := d.pickerFor(subset)
	if picker == nil {
		return
	}
	ep, err := pick(d, picker, c.info)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.req.Context()), mirrorTimeout)
	done, ok := r.mirrors.Add(cancel)
	if !ok {
		cancel()
		r.logger.Debug("weft: mirror dropped", "service", d.service)
		return
	}
	out := c.out.Clone(ctx)
	out.URL.Host = ep.Addr
	out.URL.Scheme = d.conns.scheme // a copy is as secret as the request
	out.Header.Set("Weft-Mirror", "1")
	if c.body != nil {
		out.Body = c.body.forTry()
	}
	go func() {
		defer done()
		resp, err := d.conns.roundTrip(r, out)
		if err != nil {
			return
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
}
