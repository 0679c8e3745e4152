package discovery

import (
	"errors"
	"fmt"
	"time"
)

// Timing is the gossip protocol's tuning: how fast members detect
// failures, spread changes and heal partitions, against how much traffic
// they send. Zero fields take the value of the preset named by Preset.
//
// The presets, from memberlist's own, with a comment on every number:
// [DefaultLocalTiming] for members on one host, [DefaultLANTiming] for one
// data centre, [DefaultWANTiming] for members across regions.
type Timing struct {
	// Preset names the preset zero fields are taken from: "local", "lan"
	// or "wan". If empty, "local" when the member gossips on a loopback
	// address, else "lan". Members under the "wan" preset also compress
	// their gossip, trading CPU for bytes.
	Preset string `yaml:"preset"`

	// GossipInterval is how often a member sends queued broadcasts (entry
	// changes, joins, failures) to a few random members. Lower spreads
	// changes faster, at the cost of more packets.
	GossipInterval time.Duration `yaml:"gossipInterval"`
	// ProbeInterval is how often a member probes one other member to
	// check it is alive. Failure detection takes a few intervals.
	ProbeInterval time.Duration `yaml:"probeInterval"`
	// ProbeTimeout is how long a probe waits for an ack before asking
	// other members to probe indirectly. It must exceed the network's
	// round-trip time and be less than ProbeInterval.
	ProbeTimeout time.Duration `yaml:"probeTimeout"`
	// PushPullInterval is how often a member exchanges its full state
	// (membership and all catalog entries) with a random member over TCP,
	// repairing anything gossip missed.
	PushPullInterval time.Duration `yaml:"pushPullInterval"`
	// TCPTimeout bounds each TCP exchange: joins, push/pull and fallback
	// probes. A join attempt to an unreachable seed lasts this long.
	TCPTimeout time.Duration `yaml:"tcpTimeout"`
	// SuspicionMult scales how long a member that failed its probes stays
	// suspect before it is declared dead: SuspicionMult * log10(members) *
	// ProbeInterval, at least SuspicionMult * ProbeInterval. Higher gives
	// a slow member more time to refute.
	SuspicionMult int `yaml:"suspicionMult"`
	// RetransmitMult scales how many times each broadcast is sent:
	// RetransmitMult * log10(members+1), rounded up. Higher is more robust
	// to packet loss.
	RetransmitMult int `yaml:"retransmitMult"`
	// ReconnectInterval is how often, give or take half, a member that saw
	// others die lately tries to reach them and the seeds it does not see
	// alive. After a partition heals, the two sides find each other again
	// within about one interval. With nobody dead and every seed alive,
	// nothing is sent; seed host names are resolved again every 15
	// intervals all the same, to find members a name lists only later.
	ReconnectInterval time.Duration `yaml:"reconnectInterval"`
	// ReconnectTimeout is how long a dead member, or a seed address not
	// seen alive, is tried again before it is given up. Members that left
	// gracefully are never tried.
	ReconnectTimeout time.Duration `yaml:"reconnectTimeout"`
}

// Timing presets' names, as Timing.Preset and the policy's
// mesh.timing.preset write them.
const (
	PresetLocal = "local"
	PresetLAN   = "lan"
	PresetWAN   = "wan"
)

// DefaultJoinTimeout is how long Start tries the seeds when its context
// has no deadline and Config.JoinTimeout is zero.
const DefaultJoinTimeout = 30 * time.Second

// DefaultLANTiming returns timing for members on one local network: a
// failed member is detected in about 5 s, a change reaches 100 members
// within about a second. These are memberlist's DefaultLANConfig values.
func DefaultLANTiming() Timing {
	return Timing{
		Preset:            PresetLAN,
		GossipInterval:    200 * time.Millisecond, // changes reach most members within a second
		ProbeInterval:     1 * time.Second,        // each member probes one peer per second
		ProbeTimeout:      500 * time.Millisecond, // generous for LAN round trips
		PushPullInterval:  30 * time.Second,       // full sync is rare: gossip carries changes
		TCPTimeout:        10 * time.Second,       // joins and full syncs may be large
		SuspicionMult:     4,                      // suspect for 4 * log10(N) probe intervals
		RetransmitMult:    4,                      // send each broadcast 4 * log10(N+1) times
		ReconnectInterval: 2 * time.Second,        // a healed link is used again within seconds
		ReconnectTimeout:  6 * time.Hour,          // a host back from maintenance finds the mesh
	}
}

// DefaultWANTiming returns timing for members spread across regions, with
// round trips of hundreds of milliseconds: slower detection, fewer false
// alarms. These are memberlist's DefaultWANConfig values.
func DefaultWANTiming() Timing {
	return Timing{
		Preset:            PresetWAN,
		GossipInterval:    500 * time.Millisecond, // fewer, fuller packets over long links
		ProbeInterval:     5 * time.Second,        // probes cost round trips of 100s of ms
		ProbeTimeout:      3 * time.Second,        // room for a slow intercontinental round trip
		PushPullInterval:  60 * time.Second,       // full syncs are expensive across regions
		TCPTimeout:        30 * time.Second,       // slow links carry full state slowly
		SuspicionMult:     6,                      // long suspicion: WAN links flap
		RetransmitMult:    4,                      // as on a LAN
		ReconnectInterval: 10 * time.Second,       // heals within tens of seconds
		ReconnectTimeout:  24 * time.Hour,         // a region may be away for a long time
	}
}

// DefaultLocalTiming returns timing for members on one host, talking over
// loopback: an abruptly stopped member is detected within a few seconds
// and a change reaches the others within a few gossip intervals. It is
// memberlist's DefaultLocalConfig with faster probing.
func DefaultLocalTiming() Timing {
	return Timing{
		Preset:            PresetLocal,
		GossipInterval:    100 * time.Millisecond, // changes spread within a few hundred ms
		ProbeInterval:     500 * time.Millisecond, // loopback probes are cheap
		ProbeTimeout:      200 * time.Millisecond, // loopback RTT is microseconds; room for GC pauses
		PushPullInterval:  5 * time.Second,        // full sync as a safety net; cheap on one host
		TCPTimeout:        1 * time.Second,        // loopback connects at once
		SuspicionMult:     3,                      // dead after about 1.5 s of suspicion
		RetransmitMult:    4,                      // a busy host drops UDP too: as on a LAN
		ReconnectInterval: 1 * time.Second,        // reconnecting on one host is cheap
		ReconnectTimeout:  30 * time.Second,       // on one host a member that is gone stays gone
	}
}

// presetTiming returns the preset called name.
func presetTiming(name string) (Timing, error) {
	switch name {
	case PresetLocal:
		return DefaultLocalTiming(), nil
	case PresetLAN:
		return DefaultLANTiming(), nil
	case PresetWAN:
		return DefaultWANTiming(), nil
	}
	return Timing{}, fmt.Errorf("preset: %q is not a preset: want %q, %q or %q", name, PresetLocal, PresetLAN, PresetWAN)
}

// Over returns t with its zero fields, Preset included, taken from base:
// how a node's Config.Timing lays over the policy's mesh.timing.
func (t Timing) Over(base Timing) Timing {
	if t.Preset == "" {
		t.Preset = base.Preset
	}
	t.fill(base)
	return t
}

// fill sets t's zero durations and multipliers from base.
func (t *Timing) fill(base Timing) {
	set := func(v *time.Duration, b time.Duration) {
		if *v == 0 {
			*v = b
		}
	}
	set(&t.GossipInterval, base.GossipInterval)
	set(&t.ProbeInterval, base.ProbeInterval)
	set(&t.ProbeTimeout, base.ProbeTimeout)
	set(&t.PushPullInterval, base.PushPullInterval)
	set(&t.TCPTimeout, base.TCPTimeout)
	set(&t.ReconnectInterval, base.ReconnectInterval)
	set(&t.ReconnectTimeout, base.ReconnectTimeout)
	if t.SuspicionMult == 0 {
		t.SuspicionMult = base.SuspicionMult
	}
	if t.RetransmitMult == 0 {
		t.RetransmitMult = base.RetransmitMult
	}
}

// resolve fills t's zero fields from its preset, or from the preset for
// the member's address, and checks the result.
func (t Timing) resolve(loopback bool) (Timing, error) {
	if t.Preset == "" {
		t.Preset = PresetLAN
		if loopback {
			t.Preset = PresetLocal
		}
	}
	preset, err := presetTiming(t.Preset)
	if err != nil {
		return Timing{}, err
	}
	t.fill(preset)
	return t, t.Validate()
}

// Validate reports what is wrong with t: a preset not known, a negative
// number, or a ProbeTimeout not below ProbeInterval once both are known
// (from t or its preset). Zero fields are fine: they take the preset's.
func (t Timing) Validate() error {
	var errs []error
	full := t
	if t.Preset != "" {
		preset, err := presetTiming(t.Preset)
		if err != nil {
			errs = append(errs, err)
		} else {
			full.fill(preset)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"gossipInterval", t.GossipInterval}, {"probeInterval", t.ProbeInterval},
		{"probeTimeout", t.ProbeTimeout}, {"pushPullInterval", t.PushPullInterval},
		{"tcpTimeout", t.TCPTimeout}, {"reconnectInterval", t.ReconnectInterval},
		{"reconnectTimeout", t.ReconnectTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %v is negative: want a duration such as 1s, or leave it out for the preset's", d.key, d.v))
		}
	}
	if t.SuspicionMult < 0 {
		errs = append(errs, fmt.Errorf("suspicionMult: %d: want 1 or more", t.SuspicionMult))
	}
	if t.RetransmitMult < 0 {
		errs = append(errs, fmt.Errorf("retransmitMult: %d: want 1 or more", t.RetransmitMult))
	}
	if full.ProbeTimeout > 0 && full.ProbeInterval > 0 && full.ProbeTimeout >= full.ProbeInterval {
		key := "probeTimeout"
		if t.ProbeTimeout == 0 {
			key = "probeInterval"
		}
		errs = append(errs, fmt.Errorf("%s: probeTimeout %v must be less than probeInterval %v: a probe must end before the next one starts", key, full.ProbeTimeout, full.ProbeInterval))
	}
	return errors.Join(errs...)
}
