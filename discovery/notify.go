package discovery

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
)

// notifier delivers views to subscribers from a single goroutine, in
// order. It coalesces: a subscriber that is slow, or a burst of changes,
// makes intermediate views skipped, never reordered.
type notifier struct {
	wake chan struct{} // capacity 1: a pending wake-up
	stop chan struct{}
	done chan struct{}
	gid  uint64 // the delivering goroutine's id, set before it starts

	mu      sync.Mutex
	latest  *View
	subs    []*subscriber
	calling *subscriber // the subscriber whose fn runs now, if any
	idle    *sync.Cond  // signalled after each call
}

type subscriber struct {
	fn       func(*View)
	last     uint64 // version last delivered
	canceled bool
}

func newNotifier(initial *View) *notifier {
	n := &notifier{
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		latest: initial,
	}
	n.idle = sync.NewCond(&n.mu)
	started := make(chan uint64)
	go n.run(started)
	n.gid = <-started
	return n
}

// publish records v as the latest view and wakes the delivering goroutine.
// It never blocks, so memberlist's callbacks may call it.
func (n *notifier) publish(v *View) {
	n.mu.Lock()
	if n.latest == nil || v.version > n.latest.version {
		n.latest = v
	}
	n.mu.Unlock()
	n.kick()
}

func (n *notifier) kick() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// subscribe registers fn; it receives the latest view first.
func (n *notifier) subscribe(fn func(*View)) (cancel func()) {
	s := &subscriber{fn: fn}
	n.mu.Lock()
	n.subs = append(n.subs, s)
	n.mu.Unlock()
	n.kick()
	var once sync.Once
	return func() { once.Do(func() { n.cancel(s) }) }
}

// cancel removes s and waits until a call to s.fn in progress returns,
// unless it is that call which cancels.
func (n *notifier) cancel(s *subscriber) {
	n.mu.Lock()
	defer n.mu.Unlock()
	s.canceled = true
	for i, o := range n.subs {
		if o == s {
			n.subs = append(n.subs[:i:i], n.subs[i+1:]...)
			break
		}
	}
	if goroutineID() == n.gid {
		return
	}
	for n.calling == s {
		n.idle.Wait()
	}
}

// close stops the delivering goroutine after the call in progress, if
// any, and waits for it to exit, unless called from a subscriber: the
// goroutine then exits when that call returns.
func (n *notifier) close() {
	n.mu.Lock()
	select {
	case <-n.stop:
	default:
		close(n.stop)
	}
	n.mu.Unlock()
	if goroutineID() != n.gid {
		<-n.done
	}
}

func (n *notifier) run(started chan<- uint64) {
	defer close(n.done)
	started <- goroutineID()
	for {
		select {
		case <-n.stop:
			return
		case <-n.wake:
		}
		for n.deliverRound() {
			select {
			case <-n.stop:
				return
			default:
			}
		}
	}
}

// deliverRound hands the latest view to every subscriber that has not
// seen it yet, and reports whether it called any.
func (n *notifier) deliverRound() bool {
	n.mu.Lock()
	v := n.latest
	if v == nil {
		n.mu.Unlock()
		return false
	}
	var due []*subscriber
	for _, s := range n.subs {
		if s.last < v.version {
			due = append(due, s)
		}
	}
	n.mu.Unlock()
	for _, s := range due {
		select {
		case <-n.stop:
			return false
		default:
		}
		n.deliver(s, v)
	}
	return len(due) > 0
}

func (n *notifier) deliver(s *subscriber, v *View) {
	n.mu.Lock()
	if s.canceled {
		n.mu.Unlock()
		return
	}
	s.last = v.version
	n.calling = s
	n.mu.Unlock()

	defer func() {
		n.mu.Lock()
		n.calling = nil
		n.idle.Broadcast()
		n.mu.Unlock()
	}()
	s.fn(v)
}

// goroutineID returns the current goroutine's id, parsed from the header
// of its stack trace ("goroutine 42 [running]:"). The notifier needs it
// to tell a cancel called from inside a subscriber (which must not wait
// for itself) from one called elsewhere (which must wait).
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
