package discovery

import (
	"bytes"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		line    string
		level   slog.Level
		msg     string
		dropped bool
	}{
		{"[ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message from=127.0.0.1:1\n", slog.LevelError, "Decrypt packet failed: no installed keys could decrypt the message from=127.0.0.1:1", true},
		{"[ERR] memberlist: discarding packet with unacceptable label \"\": from=127.0.0.1:1", slog.LevelError, `discarding packet with unacceptable label "": from=127.0.0.1:1`, true},
		{"[ERR] memberlist: discarding stream with unacceptable label \"x\": from=127.0.0.1:1", slog.LevelError, `discarding stream with unacceptable label "x": from=127.0.0.1:1`, true},
		{"[ERR] memberlist: msg type (127) not supported from=127.0.0.1:1", slog.LevelError, "msg type (127) not supported from=127.0.0.1:1", true},
		{"[ERR] memberlist: Failed to decode compound request: missing compound length byte", slog.LevelError, "Failed to decode compound request: missing compound length byte", true},
		{"[ERR] memberlist: UDP packet too short (0 bytes) from=127.0.0.1:1", slog.LevelError, "UDP packet too short (0 bytes) from=127.0.0.1:1", true},
		{"[WARN] memberlist: Got invalid checksum for UDP packet: 1, 2", slog.LevelWarn, "Got invalid checksum for UDP packet: 1, 2", true},
		{"[ERR] memberlist: failed to receive: Encryption is configured but remote state is not encrypted from=127.0.0.1:1", slog.LevelError, "failed to receive: Encryption is configured but remote state is not encrypted from=127.0.0.1:1", true},
		{"[ERR] memberlist: Failed to read remote state: EOF", slog.LevelError, "Failed to read remote state: EOF", true},
		{"[ERR] memberlist: Failed push/pull merge: x", slog.LevelError, "Failed push/pull merge: x", true},
		{"[ERR] memberlist: Received invalid msgType (126) from=127.0.0.1:1", slog.LevelError, "Received invalid msgType (126) from=127.0.0.1:1", true},
		{"[ERR] memberlist: cannot decode label; packet has been truncated from=127.0.0.1:1", slog.LevelError, "cannot decode label; packet has been truncated from=127.0.0.1:1", true},
		{"[WARN] memberlist: handler queue full, dropping message (8) from=127.0.0.1:1", slog.LevelWarn, "handler queue full, dropping message (8) from=127.0.0.1:1", true},
		// Not drops of inbound traffic.
		{"[ERR] memberlist: Failed to send gossip to 127.0.0.1:1: closed", slog.LevelError, "Failed to send gossip to 127.0.0.1:1: closed", false},
		{"[ERR] memberlist: Push/Pull with a failed: dial tcp: connection refused", slog.LevelError, "Push/Pull with a failed: dial tcp: connection refused", false},
		{"[INFO] memberlist: Suspect a has failed, no acks received", slog.LevelInfo, "Suspect a has failed, no acks received", false},
		{"[DEBUG] memberlist: Stream connection from=127.0.0.1:1", slog.LevelDebug, "Stream connection from=127.0.0.1:1", false},
		{"[DEBUG] memberlist: Failed to decode something at debug", slog.LevelDebug, "Failed to decode something at debug", false},
		// Odd shapes memberlist also writes.
		{"[ERROR] memberlist: Failed to encrypt local state: x", slog.LevelError, "Failed to encrypt local state: x", false},
		{"Err: Could not set the deadline: x", slog.LevelError, "Could not set the deadline: x", false},
		{"[ERR] Failed to shutdown transport: x", slog.LevelError, "Failed to shutdown transport: x", false},
		{"no tag at all", slog.LevelInfo, "no tag at all", false},
		{"[", slog.LevelInfo, "[", false},
		{"", slog.LevelInfo, "", false},
	}
	for _, tt := range tests {
		level, msg, dropped := classify(tt.line)
		if level != tt.level || msg != tt.msg || dropped != tt.dropped {
			t.Errorf("classify(%q) = %v, %q, %v; want %v, %q, %v", tt.line, level, msg, dropped, tt.level, tt.msg, tt.dropped)
		}
	}
}

func TestLogAdapterRoutesAndCounts(t *testing.T) {
	var buf bytes.Buffer
	var dropped atomic.Uint64
	var closing atomic.Bool
	a := &logAdapter{
		logger:  slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		dropped: &dropped,
		closing: &closing,
	}
	l := log.New(a, "", 0)
	l.Printf("[ERR] memberlist: Decrypt packet failed: bad from=%s", "127.0.0.1:9")
	l.Printf("[DEBUG] memberlist: Stream connection from=%s", "127.0.0.1:9")
	if dropped.Load() != 1 {
		t.Errorf("dropped = %d", dropped.Load())
	}
	out := buf.String()
	for _, want := range []string{
		`level=WARN msg="Decrypt packet failed: bad from=127.0.0.1:9" component=memberlist dropped=true`,
		`level=DEBUG msg="Stream connection from=127.0.0.1:9" component=memberlist`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	// Once the member shuts down, complaints about its closed sockets
	// are neither errors nor drops.
	closing.Store(true)
	buf.Reset()
	l.Printf("[ERR] memberlist: Failed to receive: use of closed network connection")
	if dropped.Load() != 1 || !strings.Contains(buf.String(), "level=DEBUG") {
		t.Errorf("after close: dropped %d, log %q", dropped.Load(), buf.String())
	}
}

func TestSuspectName(t *testing.T) {
	tests := map[string]string{
		"Suspect orders-0a1b2c3d has failed, no acks received": "orders-0a1b2c3d",
		"Suspect  has failed, no acks received":                "",
		"Suspect a b has failed, no acks received":             "",
		"Suspect x has failed":                                 "",
		"Marking x as failed, suspect timeout reached":         "",
	}
	for msg, want := range tests {
		got, ok := suspectName(msg)
		if got != want || ok != (want != "") {
			t.Errorf("suspectName(%q) = %q, %v", msg, got, ok)
		}
	}
	var seen []string
	a := &logAdapter{logger: discardLogger(), dropped: new(atomic.Uint64), suspect: func(n string) { seen = append(seen, n) }}
	log.New(a, "", 0).Printf("[INFO] memberlist: Suspect %s has failed, no acks received", "web-1")
	if len(seen) != 1 || seen[0] != "web-1" {
		t.Errorf("suspect callback got %v", seen)
	}
}

func FuzzClassify(f *testing.F) {
	f.Add("[ERR] memberlist: Decrypt packet failed: x")
	f.Add("[WARN]")
	f.Add("]][[")
	f.Fuzz(func(t *testing.T, line string) {
		level, msg, dropped := classify(line)
		if dropped && level < slog.LevelWarn {
			t.Fatalf("drop counted at level %v", level)
		}
		if len(msg) > len(line) {
			t.Fatalf("message %q longer than line %q", msg, line)
		}
		if name, ok := suspectName(msg); ok && (name == "" || strings.Contains(name, " ")) {
			t.Fatalf("suspect name %q from %q", name, msg)
		}
	})
}
