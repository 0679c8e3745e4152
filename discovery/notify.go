package discovery

import "sync"

// notifier delivers views to subscribers from a single goroutine, in
// order. It coalesces: a subscriber that is slow, or a burst of changes,
// makes intermediate views skipped, never reordered.
type notifier struct {
	wake chan struct{} // capacity 1: a pending wake-up
	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	latest *View
	subs   []*subscriber
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
	go n.run()
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

// cancel removes s. It does not wait for a call to s.fn in progress, so
// that fn may cancel itself.
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
}

// close stops the delivering goroutine after the call in progress, if
// any, and waits for it to exit. It must not be called from a subscriber.
func (n *notifier) close() {
	n.mu.Lock()
	select {
	case <-n.stop:
	default:
		close(n.stop)
	}
	n.mu.Unlock()
	<-n.done
}

func (n *notifier) run() {
	defer close(n.done)
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
	n.mu.Unlock()
	s.fn(v)
}
