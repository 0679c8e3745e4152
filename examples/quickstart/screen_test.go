package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// With the table redrawn in place, log lines (memberlist's errors among
// them) are shown under the table, never between frames, and all of them
// are printed when the run ends.
func TestLogsStayUnderTheRedrawnTable(t *testing.T) {
	var term, logs bytes.Buffer
	s := newScreen(&term, true)
	l := slog.New(slog.NewTextHandler(s.logSink(&logs), nil))
	for i := range 10 {
		l.Error("memberlist: failed to receive", "n", i)
	}
	if term.Len() != 0 || logs.Len() != 0 {
		t.Fatalf("log lines written between frames: %q %q", term.String(), logs.String())
	}
	s.frame(nil, statsSnapshot{}, 0, 0)
	frame := term.String()
	if !strings.HasPrefix(frame, "\x1b[H\x1b[2J") || !strings.Contains(frame, "latest of 10 log lines") ||
		!strings.Contains(frame, "n=9") || strings.Contains(frame, "n=3") {
		t.Errorf("frame:\n%s", frame)
	}
	s.flushLogs()
	if got := strings.Count(logs.String(), "failed to receive"); got != 10 {
		t.Errorf("%d log lines printed at the end, want 10", got)
	}
}
