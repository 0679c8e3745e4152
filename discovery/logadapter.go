package discovery

import (
	"log/slog"
	"strings"
	"sync/atomic"
)

// memberlist reports through its *log.Logger only, with lines such as
// "[ERR] memberlist: Decrypt packet failed: ...". logAdapter is the
// io.Writer behind that logger: it re-logs each line on the member's slog
// logger at the matching level and counts the lines that say an inbound
// packet or stream was thrown away.
type logAdapter struct {
	logger  *slog.Logger
	dropped *atomic.Uint64
	// closing is set once the member shuts down; memberlist's background
	// tasks may still report errors about its closed sockets, which are
	// then logged at debug level.
	closing *atomic.Bool
	// suspect is told the name of each member whose probe by this one
	// failed; memberlist reports that in its log only.
	suspect func(name string)
}

// droppedInbound lists fragments of memberlist v0.7.0's log lines that
// report an inbound packet or stream it discarded (net.go,
// net_transport.go). They are matched case-insensitively.
var droppedInbound = []string{
	"decrypt packet failed",        // wrong or missing key
	"unacceptable label",           // another mesh, or no label
	"cannot decode label",          // truncated label header
	"label header cannot be empty", // malformed label header
	"double packet label header",   // label header twice
	"double stream label header",   // label header twice
	"failed to receive and remove the stream label header",
	"failed to decode",                     // compound, ping, ack, alive, dead...
	"failed to decompress",                 // bad compressed payload
	"invalid msgtype",                      // unknown stream message type
	"not supported",                        // unknown packet message type
	"missing message type byte",            // empty message
	"packet too short",                     // empty UDP datagram
	"invalid checksum",                     // CRC mismatch
	"truncated messages",                   // compound with truncated parts
	"failed to receive",                    // unreadable stream (also user messages)
	"failed to read remote state",          // unreadable push/pull
	"failed push/pull merge",               // push/pull rejected while merging
	"handler queue full, dropping message", // overload
	"remote node state size",               // push/pull over the size limit
}

// classify maps a memberlist log line to a level and a message without the
// level tag and the "memberlist: " prefix, and says whether it reports a
// dropped inbound packet or stream.
func classify(line string) (level slog.Level, msg string, dropped bool) {
	line = strings.TrimRight(line, "\r\n")
	level = slog.LevelInfo
	msg = line
	if strings.HasPrefix(line, "[") {
		if end := strings.IndexByte(line, ']'); end > 0 {
			switch line[1:end] {
			case "ERR", "ERROR":
				level = slog.LevelError
			case "WARN":
				level = slog.LevelWarn
			case "DEBUG":
				level = slog.LevelDebug
			}
			msg = strings.TrimLeft(line[end+1:], " ")
		}
	} else if rest, ok := strings.CutPrefix(line, "Err: "); ok {
		level, msg = slog.LevelError, rest
	}
	msg = strings.TrimPrefix(msg, "memberlist: ")
	if level >= slog.LevelWarn {
		lower := strings.ToLower(msg)
		for _, frag := range droppedInbound {
			if strings.Contains(lower, frag) {
				dropped = true
				break
			}
		}
	}
	return level, msg, dropped
}

// suspectName extracts the member named in memberlist's "Suspect <name>
// has failed, no acks received" (state.go, after a failed probe).
func suspectName(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, "Suspect ")
	if !ok {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, " has failed, no acks received")
	if !ok || name == "" || strings.ContainsAny(name, " \n") {
		return "", false
	}
	return name, true
}

// Write handles one log line; log.Logger calls Write once per line.
func (a *logAdapter) Write(p []byte) (int, error) {
	level, msg, dropped := classify(string(p))
	if a.closing != nil && a.closing.Load() {
		level, dropped = slog.LevelDebug, false
	}
	if dropped {
		// Bad input from the network is the sender's fault, not this
		// member's: a warning, counted.
		level = min(level, slog.LevelWarn)
		a.dropped.Add(1)
	}
	if name, ok := suspectName(msg); ok && a.suspect != nil {
		a.suspect(name)
	}
	args := []any{"component", "memberlist"}
	if dropped {
		args = append(args, "dropped", true)
	}
	switch level {
	case slog.LevelError:
		a.logger.Error(msg, args...)
	case slog.LevelWarn:
		a.logger.Warn(msg, args...)
	case slog.LevelDebug:
		a.logger.Debug(msg, args...)
	default:
		a.logger.Info(msg, args...)
	}
	return len(p), nil
}
