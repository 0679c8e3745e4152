package discovery

import (
	"io"
	"log"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFaultyTransportShutsDownWhileReceiving shuts a transport down
// while packets and streams keep arriving and nobody takes them: Shutdown
// returns, and nothing is left running.
func TestFaultyTransportShutsDownWhileReceiving(t *testing.T) {
	tr, err := newFaultyTransport(new(Faults), "127.0.0.1", 0, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tr.port()))
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 10 {
		if _, err := conn.Write([]byte("packet")); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	// Take one packet, then wait until memberlist's listener is stuck
	// handing over another, as it is when the member is busy.
	select {
	case <-tr.PacketCh():
	case <-time.After(10 * time.Second):
		t.Fatal("no packet relayed")
	}
	if !waitFor(t, 10*time.Second, func() bool { return blockedIn("[chan send", "udpListen") }) {
		t.Fatal("the listener never waited to hand over a packet")
	}

	done := make(chan error, 1)
	go func() { done <- tr.Shutdown() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown still blocked after 10s with packets waiting")
	}
}

// blockedIn reports whether a goroutine is in state (as its stack trace
// header writes it) inside function fn.
func blockedIn(state, fn string) bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, state) && strings.Contains(g, fn) {
			return true
		}
	}
	return false
}
