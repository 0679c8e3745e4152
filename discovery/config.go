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

	// Join lists seed members as host:port, the host an IP address or a
	// DNS name. Names are resolved again at every attempt, so a name with
	// many addresses (a Kubernetes headless Service, say) stands for all
	// of them. Start joins through the first seed that answers, never
	// through the member's own address; a member that is itself a seed
	// and reaches no other starts the mesh. While it runs, the member
	// re-joins the seeds it does not see alive. If empty, the member
	// starts a new mesh and waits to be joined.
	Join []string

	// Timing tunes failure detection, dissemination and healing. Its zero
	// fields take the value of the preset Timing.Preset names; if that is
	// empty, "local" when BindAddr's IP is loopback, else "lan".
	Timing Timing

	// JoinTimeout bounds how long Start tries the seeds when its ctx has
	// no deadline. If zero, [DefaultJoinTimeout].
	JoinTimeout time.Duration

	// Faults, if not nil, injects packet loss and delay into this
	// member's gossip, for fault drills. Nil injects nothing.
	Faults *Faults

	// Logger receives the member's log lines, memberlist's included (at
	// their own level). If nil, nothing is logged.
	Logger *slog.Logger

	// Local is the catalog entry this member owns. Service is required.
	// If Node is empty, a fresh "<service>-<8 hex digits>" name is
	// generated, so a restarted process never reuses a name. If State is
	// zero, StateStarting. If Seq is zero, 1.
	Local Instance
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
		if err := checkSeed(seed); err != nil {
			return nil, fmt.Errorf("Join: %w", err)
		}
	}
	if s.Timing, err = cfg.Timing.resolve(ip.IsLoopback()); err != nil {
		return nil, fmt.Errorf("Timing: %w", err)
	}
	if cfg.JoinTimeout < 0 {
		return nil, fmt.Errorf("JoinTimeout %v: want 0 (the default, %v) or more", cfg.JoinTimeout, DefaultJoinTimeout)
	}
	if s.JoinTimeout == 0 {
		s.JoinTimeout = DefaultJoinTimeout
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
