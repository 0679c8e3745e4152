package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// screen writes the live table, event lines and messages to one writer.
// With redraw, every frame replaces the previous one (ANSI clear) and
// repeats the events so far below the table; without it, frames and
// events are printed one after the other, so logs stay readable. It is
// safe for concurrent use.
type screen struct {
	w      io.Writer
	redraw bool
	start  time.Time

	mu     sync.Mutex
	events []string
	header []string // lines repeated on top of every redrawn frame

	// With redraw, the nodes' log lines: the latest are shown under the
	// table, all are written to logsTo when the run ends.
	logs    []string
	logsTo  io.Writer
	logSeen int
}

// shownLogLines is how many of the latest log lines a redrawn frame shows.
const shownLogLines = 6

// maxKeptLogLines bounds the log lines kept for the end of the run.
const maxKeptLogLines = 1000

// logSink returns a writer for the nodes' logs that keeps their lines for
// the frames instead of writing them between frames; flushLogs writes
// them to w.
func (s *screen) logSink(w io.Writer) io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logsTo = w
	return logWriter{s}
}

type logWriter struct{ s *screen }

// Write takes whole lines, as slog's handlers write them.
func (l logWriter) Write(p []byte) (int, error) {
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for line := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
		s.logSeen++
		if len(s.logs) == maxKeptLogLines {
			s.logs = s.logs[1:]
		}
		s.logs = append(s.logs, line)
	}
	return len(p), nil
}

// flushLogs writes the log lines kept, once the table is no longer
// redrawn.
func (s *screen) flushLogs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logsTo == nil || len(s.logs) == 0 {
		return
	}
	if dropped := s.logSeen - len(s.logs); dropped > 0 {
		fmt.Fprintf(s.logsTo, "(%d earlier log lines not kept)\n", dropped)
	}
	for _, l := range s.logs {
		fmt.Fprintln(s.logsTo, l)
	}
	s.logs = nil
}

func newScreen(w io.Writer, redraw bool) *screen {
	return &screen{w: w, redraw: redraw, start: time.Now()}
}

// restartClock makes frame and event times count from now.
func (s *screen) restartClock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start = time.Now()
}

// elapsed returns the time since the clock started.
func (s *screen) elapsed() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Since(s.start)
}

// printf prints a message line. Before the first frame, with redraw,
// messages are also kept on top of every frame.
func (s *screen) printf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintln(s.w, line)
	if s.redraw {
		s.header = append(s.header, line)
	}
}

// event prints a timestamped line about something that happened.
func (s *screen) event(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := fmt.Sprintf("%6.1fs  » ", time.Since(s.start).Seconds()) + fmt.Sprintf(format, args...)
	s.events = append(s.events, line)
	if !s.redraw {
		fmt.Fprintln(s.w, line)
	}
}

// row is one endpoint's line in the table.
type row struct {
	instance, version, node, addr, state string
	rate                                 float64 // requests per second over the last period
	snap                                 statsSnapshot
}

// tableHeader names the table's columns.
const tableHeader = "INSTANCE     VER  NODE      ADDRESS          STATE     REQ/S    TOTAL     OK%     P50     P99"

// frame prints the table of rows and the loadgen's line.
func (s *screen) frame(rows []row, gen statsSnapshot, genRate float64, skipped uint64) {
	var b bytes.Buffer
	s.mu.Lock()
	defer s.mu.Unlock()
	elapsed := time.Since(s.start).Seconds()
	if s.redraw {
		b.WriteString("\x1b[H\x1b[2J")
		for _, l := range s.header {
			b.WriteString(l + "\n")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "── %.1fs ── per endpoint, as its server measured it (REQ/S, P50 and P99 over the last second)\n", elapsed)
	b.WriteString(tableHeader + "\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-12s %-4s %-9s %-16s %-8s %6.0f %8d %7s %7s %7s\n",
			r.instance, dash(r.version), r.node, r.addr, r.state,
			r.rate, r.snap.Total, percent(r.snap), latency(r.snap.RecentP50), latency(r.snap.RecentP99))
	}
	fmt.Fprintf(&b, "loadgen → %s  sent %d  ok %d  failed %d  (%s)  last second: %.0f req/s, p50 %s, p99 %s",
		loadgenURL, gen.Total, gen.OK, gen.Total-gen.OK, percent(gen), genRate, latency(gen.RecentP50), latency(gen.RecentP99))
	if skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped (workers busy)", skipped)
	}
	b.WriteString("\n")
	if s.redraw && len(s.events) > 0 {
		b.WriteString("\n" + strings.Join(s.events, "\n") + "\n")
	}
	if s.redraw && len(s.logs) > 0 {
		fmt.Fprintf(&b, "\nlatest of %d log lines (all are printed at the end):\n", s.logSeen)
		for _, l := range s.logs[max(0, len(s.logs)-shownLogLines):] {
			if len(l) > 160 {
				l = l[:160] + "…"
			}
			b.WriteString("  " + l + "\n")
		}
	}
	if !s.redraw {
		b.WriteString("\n")
	}
	s.w.Write(b.Bytes())
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// percent formats a success rate; "-" before any request.
func percent(s statsSnapshot) string {
	if s.Total == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", s.SuccessRate())
}

// latency formats a duration in milliseconds; "-" for none.
func latency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
