package discovery

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures a [Membership]. The zero value is not usable:
// MeshName, BindAddr and Local.Service are required.
type Config struct {
	// MeshName labels every gossip packet and stream. Members of meshes
	// with different names ignore each other even when they reach each
	// other's ports. 1 to 63 letters, digits, '-', '.' or '_'. Required.
	MeshName string

	// Key is the AES-GCM key (16, 24 or 32 bytes) that encrypts and
	// authenticates all gossip. Every member of a mesh needs the same key;
	// a member without it can neither read nor inject anything. If nil,
	// gossip travels in clear text and Start logs a warning.
	Key []byte

	// BindAddr is the IP:port the member listens on, for UDP and TCP
	// alike. Port 0 picks a free port, the same for both; [Membership.Addr]
	// reports it. Required.
	BindAddr string

	// AdvertiseAddr is the IP:port other members use to reach this one.
	// If empty, the bound address (with a private IP chosen by memberlist
	// when BindAddr's IP is unspecified).
	AdvertiseAddr string

	// Join lists seed members as host:port. If empty, the member starts a
	// new mesh and waits to be joined.
	Join []string

	// Timing tunes failure detection and dissemination. If zero,
	// [DefaultLocalTiming] when BindAddr's IP is loopback, else
	// [DefaultLANTiming]; zero fields of a non-zero Timing take the
	// preset's value.
	Timing Timing

	// Logger receives the member's log lines, memberlist's included (at
	// their own level). If nil, nothing is logged.
	Logger *slog.Logger

	// Local is the catalog entry this member owns. Service is required.
	// If Node is empty, a fresh "<service>-<8 hex digits>" name is
	// generated, so a restarted process never reuses a name. If State is
	// zero, StateStarting. If Seq is zero, 1.
	Local Instance
}

// Timing is the gossip protocol's tuning: how fast members detect
// failures and spread changes, against how much traffic they send.
type Timing struct {
	// GossipInterval is how often a member sends queued broadcasts (entry
	// changes, joins, failures) to a few random members. Lower spreads
	// changes faster, at the cost of more packets.
	GossipInterval time.Duration
	// ProbeInterval is how often a member probes one other member to
	// check it is alive. Failure detection takes a few intervals.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for an ack before asking
	// other members to probe indirectly. It must exceed the network's
	// round-trip time and be less than ProbeInterval.
	ProbeTimeout time.Duration
	// PushPullInterval is how often a member exchanges its full state
	// (membership and all catalog entries) with a random member over TCP,
	// repairing anything gossip missed.
	PushPullInterval time.Duration
	// TCPTimeout bounds each TCP exchange: joins, push/pull and fallback
	// probes.
	TCPTimeout time.Duration
	// SuspicionMult scales how long a member that failed its probes stays
	// suspect before it is declared dead: SuspicionMult * log10(members) *
	// ProbeInterval, at least SuspicionMult * ProbeInterval. Higher gives
	// a slow member more time to refute.
	SuspicionMult int
	// RetransmitMult scales how many times each broadcast is sent:
	// RetransmitMult * log10(members+1), rounded up. Higher is more robust
	// to packet loss.
	RetransmitMult int
}

// DefaultLANTiming returns timing for members on one local network. These
// are memberlist's DefaultLANConfig values.
func DefaultLANTiming() Timing {
	return Timing{
		GossipInterval:   200 * time.Millisecond, // changes reach most members within a second
		ProbeInterval:    1 * time.Second,        // each member probes one peer per second
		ProbeTimeout:     500 * time.Millisecond, // generous for LAN round trips
		PushPullInterval: 30 * time.Second,       // full sync is rare: gossip carries changes
		TCPTimeout:       10 * time.Second,       // joins and full syncs may be large
		SuspicionMult:    4,                      // suspect for 4 * log10(N) probe intervals
		RetransmitMult:   4,                      // send each broadcast 4 * log10(N+1) times
	}
}

// DefaultLocalTiming returns timing for members on one host, talking over
// loopback: an abruptly stopped member is detected within a few seconds
// and a change reaches the others within a few gossip intervals. It is
// memberlist's DefaultLocalConfig with faster probing.
func DefaultLocalTiming() Timing {
	return Timing{
		GossipInterval:   100 * time.Millisecond, // changes spread within a few hundred ms
		ProbeInterval:    500 * time.Millisecond, // loopback probes are cheap
		ProbeTimeout:     200 * time.Millisecond, // loopback RTT is microseconds; room for GC pauses
		PushPullInterval: 5 * time.Second,        // full sync as a safety net; cheap on one host
		TCPTimeout:       1 * time.Second,        // loopback connects at once
		SuspicionMult:    3,                      // dead after about 1.5 s of suspicion
		RetransmitMult:   4,                      // a busy host drops UDP too: as on a LAN
	}
}

// withDefaults fills zero fields from preset.
func (t Timing) withDefaults(preset Timing) Timing {
	if t.GossipInterval == 0 {
		t.GossipInterval = preset.GossipInterval
	}
	if t.ProbeInterval == 0 {
		t.ProbeInterval = preset.ProbeInterval
	}
	if t.ProbeTimeout == 0 {
		t.ProbeTimeout = preset.ProbeTimeout
	}
	if t.PushPullInterval == 0 {
		t.PushPullInterval = preset.PushPullInterval
	}
	if t.TCPTimeout == 0 {
		t.TCPTimeout = preset.TCPTimeout
	}
	if t.SuspicionMult == 0 {
		t.SuspicionMult = preset.SuspicionMult
	}
	if t.RetransmitMult == 0 {
		t.RetransmitMult = preset.RetransmitMult
	}
	return t
}

func (t Timing) validate() error {
	switch {
	case t.GossipInterval < 0, t.ProbeInterval < 0, t.ProbeTimeout < 0, t.PushPullInterval < 0, t.TCPTimeout < 0:
		return errors.New("durations must be positive")
	case t.ProbeTimeout >= t.ProbeInterval:
		return fmt.Errorf("ProbeTimeout %v must be less than ProbeInterval %v", t.ProbeTimeout, t.ProbeInterval)
	case t.SuspicionMult < 1, t.RetransmitMult < 1:
		return errors.New("SuspicionMult and RetransmitMult must be at least 1")
	}
	return nil
}

// settings is a validated Config, ready for memberlist.
type settings struct {
	Config
	bindIP     string
	bindPort   int
	advIP      string
	advPort    int
	entryLimit int
}

// check validates cfg and applies its defaults. It does not generate the
// node name.
func (cfg Config) check() (*settings, error) {
	s := &settings{Config: cfg}
	if !validToken(cfg.MeshName, 63, "-._") {
		return nil, fmt.Errorf("MeshName %q: want 1-63 letters, digits, '-', '.' or '_'", cfg.MeshName)
	}
	if cfg.Key != nil {
		if err := memberlist.ValidateKey(cfg.Key); err != nil {
			return nil, fmt.Errorf("Key: %d bytes: want 16, 24 or 32 (AES-128, -192 or -256)", len(cfg.Key))
		}
	}
	var err error
	var ip net.IP
	if s.bindIP, s.bindPort, ip, err = parseIPPort(cfg.BindAddr); err != nil {
		return nil, fmt.Errorf("BindAddr %q: %w", cfg.BindAddr, err)
	}
	if cfg.AdvertiseAddr != "" {
		if s.advIP, s.advPort, _, err = parseIPPort(cfg.AdvertiseAddr); err != nil {
			return nil, fmt.Errorf("AdvertiseAddr %q: %w", cfg.AdvertiseAddr, err)
		}
		if s.advPort == 0 {
			return nil, fmt.Errorf("AdvertiseAddr %q: port 0 cannot be dialled", cfg.AdvertiseAddr)
		}
	}
	for _, seed := range cfg.Join {
		if _, _, err := net.SplitHostPort(seed); err != nil {
			return nil, fmt.Errorf("Join: seed %q: want host:port", seed)
		}
	}
	preset := DefaultLANTiming()
	if ip.IsLoopback() {
		preset = DefaultLocalTiming()
	}
	s.Timing = cfg.Timing.withDefaults(preset)
	if err := s.Timing.validate(); err != nil {
		return nil, fmt.Errorf("Timing: %w", err)
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Local.State == 0 {
		s.Local.State = StateStarting
	}
	if s.Local.Seq == 0 {
		s.Local.Seq = 1
	}
	s.entryLimit = entryLimit(cfg.MeshName, cfg.Key != nil)
	return s, nil
}

// parseIPPort splits an IP:port whose IP is a literal (memberlist binds
// to addresses, not names).
func parseIPPort(addr string) (host string, port int, ip net.IP, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, nil, errors.New("want IP:port")
	}
	if ip = net.ParseIP(h); ip == nil {
		return "", 0, nil, fmt.Errorf("host %q is not an IP address", h)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, nil, fmt.Errorf("bad port %q", p)
	}
	return h, int(n), ip, nil
}
