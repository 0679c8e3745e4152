package discovery

import (
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Faults injects packet loss and delay into one member's gossip, for fault
// drills and tests of how a mesh behaves on a bad network. Loss and delay
// apply where the member's gossip meets the network, in both directions:
// each UDP packet sent or received is dropped with probability Loss and
// otherwise delivered Delay late; each TCP stream (joins, full state
// exchanges, fallback probes) is dialled Delay late, a dial is lost with
// probability Loss (it then succeeds one second later, as a retransmitted
// SYN would, or times out when Loss is 1), and with Loss 1 incoming
// streams are closed unread. Data on an established stream is not
// delayed. Loss 1 cuts the member off, as a pulled cable would.
//
// The zero value injects nothing. A Faults may be changed while the member
// runs; it is safe for concurrent use. One Faults may serve several
// members.
type Faults struct {
	loss  atomic.Uint64 // math.Float64bits of the loss probability
	delay atomic.Int64  // nanoseconds
}

// Set sets the loss probability, from 0 (none) to 1 (every packet), and
// the delay added to every packet and dial.
func (f *Faults) Set(loss float64, delay time.Duration) error {
	if !(loss >= 0 && loss <= 1) {
		return fmt.Errorf("discovery: faults: loss %v: want a probability from 0 to 1", loss)
	}
	if delay < 0 {
		return fmt.Errorf("discovery: faults: delay %v: want 0 or more", delay)
	}
	f.loss.Store(uint64(loss * (1 << 53)))
	f.delay.Store(int64(delay))
	return nil
}

// Loss returns the loss probability in force.
func (f *Faults) Loss() float64 { return float64(f.loss.Load()) / (1 << 53) }

// Delay returns the delay in force.
func (f *Faults) Delay() time.Duration { return time.Duration(f.delay.Load()) }

// lost draws whether one packet or dial is lost.
func (f *Faults) lost() bool {
	l := f.loss.Load()
	return l != 0 && rand.Uint64N(1<<53) < l
}

// faultyTransport wraps the member's network transport with its Faults.
type faultyTransport struct {
	inner   *memberlist.NetTransport
	f       *Faults
	packets chan *memberlist.Packet
	streams chan net.Conn
	stop    chan struct{}
	wg      sync.WaitGroup
	closed  atomic.Bool
}

// newFaultyTransport binds a network transport as memberlist would (port
// 0 picks a port free for UDP and TCP alike) and wraps it.
func newFaultyTransport(f *Faults, ip string, port int, logger *log.Logger) (*faultyTransport, error) {
	cfg := &memberlist.NetTransportConfig{BindAddrs: []string{ip}, BindPort: port, Logger: logger}
	tries := 1
	if port == 0 {
		tries = 10 // the UDP port may be taken when TCP's was free
	}
	var nt *memberlist.NetTransport
	var err error
	for range tries {
		if nt, err = memberlist.NewNetTransport(cfg); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	t := &faultyTransport{
		inner:   nt,
		f:       f,
		packets: make(chan *memberlist.Packet),
		streams: make(chan net.Conn),
		stop:    make(chan struct{}),
	}
	t.wg.Add(2)
	go t.relayPackets()
	go t.relayStreams()
	return t, nil
}

func (t *faultyTransport) port() int { return t.inner.GetAutoBindPort() }

func (t *faultyTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.inner.FinalAdvertiseAddr(ip, port)
}

func (t *faultyTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (t *faultyTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.f.lost() {
		return time.Now(), nil // sent, as far as the sender can tell
	}
	d := t.f.Delay()
	if d <= 0 {
		return t.inner.WriteToAddress(b, a)
	}
	b = append([]byte(nil), b...) // memberlist reuses its buffers
	time.AfterFunc(d, func() {
		if !t.closed.Load() {
			_, _ = t.inner.WriteToAddress(b, a)
		}
	})
	return time.Now(), nil
}

func (t *faultyTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

// relayPackets passes received packets on, losing and delaying them.
func (t *faultyTransport) relayPackets() {
	defer t.wg.Done()
	for {
		select {
		case <-t.stop:
			return
		case p := <-t.inner.PacketCh():
			if t.f.lost() {
				continue
			}
			if d := t.f.Delay(); d > 0 {
				time.AfterFunc(d, func() { t.deliver(p) })
				continue
			}
			t.deliver(p)
		}
	}
}

func (t *faultyTransport) deliver(p *memberlist.Packet) {
	p.Timestamp = time.Now()
	select {
	case t.packets <- p:
	case <-t.stop:
	}
}

func (t *faultyTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// errFaultTimeout is a dial lost for good (Loss 1): a timeout, as the
// network would report it.
var errFaultTimeout = fmt.Errorf("dial: %w (injected loss)", os.ErrDeadlineExceeded)

func (t *faultyTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	wait := t.f.Delay()
	if t.f.Loss() >= 1 {
		t.pause(timeout)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errFaultTimeout}
	}
	if t.f.lost() {
		wait += time.Second
	}
	if timeout > 0 && wait >= timeout {
		t.pause(timeout)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errFaultTimeout}
	}
	t.pause(wait)
	return t.inner.DialAddressTimeout(a, timeout-wait)
}

// pause waits d, or less if the transport shuts down.
func (t *faultyTransport) pause(d time.Duration) {
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-t.stop:
	}
}

func (t *faultyTransport) StreamCh() <-chan net.Conn { return t.streams }

// relayStreams passes accepted streams on, late, or closes them while
// the member is cut off.
func (t *faultyTransport) relayStreams() {
	defer t.wg.Done()
	for {
		select {
		case <-t.stop:
			return
		case c := <-t.inner.StreamCh():
			if t.f.Loss() >= 1 {
				_ = c.Close()
				continue
			}
			if d := t.f.Delay(); d > 0 {
				time.AfterFunc(d, func() { t.deliverStream(c) })
				continue
			}
			t.deliverStream(c)
		}
	}
}

func (t *faultyTransport) deliverStream(c net.Conn) {
	select {
	case t.streams <- c:
	case <-t.stop:
		_ = c.Close()
	}
}

func (t *faultyTransport) Shutdown() error {
	if !t.closed.CompareAndSwap(false, true) {
		return errors.New("discovery: faults: transport already shut down")
	}
	close(t.stop)
	// The inner transport's listeners block handing over what they
	// received until someone takes it: drop it until they have stopped.
	stopped := make(chan struct{})
	go func() {
		for {
			select {
			case <-t.inner.PacketCh():
			case c := <-t.inner.StreamCh():
				_ = c.Close()
			case <-stopped:
				return
			}
		}
	}()
	err := t.inner.Shutdown()
	close(stopped)
	t.wg.Wait()
	return err
}
