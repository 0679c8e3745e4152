package discovery

import (
	"fmt"
	"net"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Limits on the fields of an [Instance]. Entries beyond them are rejected
// locally by [Membership.Update] and, when they arrive from a peer, dropped
// and counted in [Stats].DroppedEntries.
const (
	// MaxServiceLen is the longest service name: a DNS label.
	MaxServiceLen = 63
	// MaxNodeLen is the longest node name.
	MaxNodeLen = 128
	// MaxTagLen bounds Version and Zone, and label keys.
	MaxTagLen = 63
	// MaxLabelValueLen bounds each label value.
	MaxLabelValueLen = 255
	// MaxLabels is the most labels an instance may carry.
	MaxLabels = 32
	// MaxEndpoints is the most endpoints an instance may carry.
	MaxEndpoints = 8
	// MaxWeight is the largest weight an instance may announce.
	MaxWeight = 1_000_000
)

// ValidService reports whether name is usable as a service name: a
// lowercase DNS label (RFC 1123) of 1 to 63 letters, digits and hyphens,
// neither starting nor ending with a hyphen.
func ValidService(name string) bool {
	if len(name) == 0 || len(name) > MaxServiceLen {
		return false
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validToken reports whether s is 1 to maxLen bytes of ASCII letters,
// digits and the punctuation in extra.
func validToken(s string, maxLen int, extra string) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case containsByte(extra, c):
		default:
			return false
		}
	}
	return true
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// validNode reports whether name is usable as a node name.
func validNode(name string) bool { return validToken(name, MaxNodeLen, "-._") }

// validLabelValue accepts printable UTF-8 text without control characters.
func validLabelValue(v string) bool {
	if len(v) > MaxLabelValueLen || !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// validHostPort accepts host:port with a non-empty host of at most 253
// bytes (a DNS name or an IP literal) and a numeric port from 1 to 65535.
func validHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" || len(host) > 253 {
		return fmt.Errorf("bad host %q", host)
	}
	if net.ParseIP(host) == nil && !validToken(host, 253, "-.") {
		return fmt.Errorf("bad host %q", host)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// validateInstance checks every field of in. The error names the first
// bad field; it does not carry the package prefix, callers add context.
func validateInstance(in *Instance) error {
	if !validNode(in.Node) {
		return fmt.Errorf("node %q: want 1-%d letters, digits, '-', '.' or '_'", in.Node, MaxNodeLen)
	}
	if !ValidService(in.Service) {
		return fmt.Errorf("service %q: want a lowercase DNS label of 1-%d characters", in.Service, MaxServiceLen)
	}
	if in.Version != "" && !validToken(in.Version, MaxTagLen, "-._+") {
		return fmt.Errorf("version %q: want up to %d letters, digits, '-', '.', '_' or '+'", in.Version, MaxTagLen)
	}
	if in.Zone != "" && !validToken(in.Zone, MaxTagLen, "-._") {
		return fmt.Errorf("zone %q: want up to %d letters, digits, '-', '.' or '_'", in.Zone, MaxTagLen)
	}
	if len(in.Labels) > MaxLabels {
		return fmt.Errorf("%d labels: at most %d allowed", len(in.Labels), MaxLabels)
	}
	for k, v := range in.Labels {
		if !validToken(k, MaxTagLen, "-._/") {
			return fmt.Errorf("label key %q: want 1-%d letters, digits, '-', '.', '_' or '/'", k, MaxTagLen)
		}
		if !validLabelValue(v) {
			return fmt.Errorf("label %q: value must be at most %d bytes of printable UTF-8", k, MaxLabelValueLen)
		}
	}
	if len(in.Endpoints) > MaxEndpoints {
		return fmt.Errorf("%d endpoints: at most %d allowed", len(in.Endpoints), MaxEndpoints)
	}
	for i, e := range in.Endpoints {
		// "admin" is where a member serves its admin endpoint.
		if e.Protocol != "http" && e.Protocol != "grpc" && e.Protocol != "admin" {
			return fmt.Errorf("endpoint %d: protocol %q: want \"http\", \"grpc\" or \"admin\"", i, e.Protocol)
		}
		if err := validHostPort(e.Addr); err != nil {
			return fmt.Errorf("endpoint %d: addr %q: %w", i, e.Addr, err)
		}
	}
	if in.Weight > MaxWeight {
		return fmt.Errorf("weight %d: at most %d allowed", in.Weight, MaxWeight)
	}
	if in.State < StateStarting || in.State > StateDraining {
		return fmt.Errorf("unknown state %d", in.State)
	}
	if in.Seq == 0 {
		return fmt.Errorf("seq 0: sequence numbers start at 1")
	}
	return nil
}
