package mesh

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/weftmesh/weft/discovery"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Config describes the node to start. Empty fields fall back to the
// environment variables named on each, then to the stated default.
type Config struct {
	// Service is the name of the service this node hosts, as callers
	// write it in http://<service>/ URLs: a DNS label (lowercase letters,
	// digits and '-'). If empty, $WEFT_SERVICE. Required.
	Service string
	// Version is the label that policy subsets select on, e.g. "v2".
	Version string
	// Zone is the failure domain this node runs in.
	Zone string
	// Labels are free-form key/value pairs published in the catalog.
	Labels map[string]string
	// Weight is this node's relative share of its service's traffic.
	// If zero, 1.
	Weight uint32

	// Join lists seed members as host:port. If empty, $WEFT_JOIN
	// (comma-separated); if that is empty too, the node starts a new mesh
	// of its own and waits for others to join it.
	Join []string
	// GossipAddr is the host:port to bind gossip (UDP and TCP) to.
	// "127.0.0.1:0" picks a free port; see [Node.GossipAddr]. If empty,
	// $WEFT_GOSSIP_ADDR, else "127.0.0.1:0": a node is reachable from
	// other hosts only when told to be.
	GossipAddr string
	// AdvertiseAddr is the host:port other members use to reach this
	// node, when it differs from GossipAddr (NAT, containers). If empty,
	// the bound address.
	AdvertiseAddr string

	// Timing tunes gossip: how fast members detect failures, spread
	// changes and heal partitions. Its zero fields are taken from the
	// policy's mesh.timing, then from the preset named there or in
	// Timing.Preset: "local" when GossipAddr is a loopback address, "lan"
	// otherwise. See [discovery.Timing] for each number's effect.
	Timing discovery.Timing
	// GossipFaults, if not nil, injects packet loss and delay into the
	// node's gossip, for fault drills; see [discovery.Faults].
	GossipFaults *discovery.Faults

	// PolicyFile is the path of the mesh's YAML policy, watched and
	// reloaded while the node runs. If empty, $WEFT_POLICY; if that is
	// empty too, the built-in defaults (mesh "weft", least-request
	// balancing, 5 s timeouts, gossip in clear text).
	PolicyFile string
	// AdminAddr is the host:port of the admin endpoint (/healthz,
	// /readyz, /metrics, /debug/weft, the dashboard at /ui; see package
	// admin), advertised in the node's catalog entry so that other
	// members' dashboards read this node's counts. Keep it on loopback,
	// or set admin.allow: beyond loopback it requires mutual TLS. If
	// empty, $WEFT_ADMIN_ADDR, else the policy's admin.listen; if all are
	// empty, no admin endpoint is served.
	AdminAddr string

	// DrainDelay is how long Shutdown keeps serving after announcing that
	// the node drains, so that callers learn of it before the listeners
	// close. If zero, 1 s: several gossip rounds on a LAN.
	DrainDelay time.Duration

	// Logger receives the node's logs. If nil, slog.Default().
	Logger *slog.Logger

	// TracerProvider, if not nil, creates the node's spans (a server span
	// per request served, a client span per call and one per attempt)
	// instead of a provider built from the policy's telemetry.tracing,
	// and tracing is on. The node never shuts it down. OpenTelemetry's
	// global provider is never read or set.
	TracerProvider trace.TracerProvider
	// MeterProvider, if not nil, receives the node's metrics instead of a
	// provider of the node's own; the admin endpoint's /metrics then
	// answers 404 and telemetry.metrics does not apply. The node never
	// shuts it down.
	MeterProvider metric.MeterProvider
	// Propagator, if not nil, carries trace context and baggage between
	// services. If nil, $OTEL_PROPAGATORS, else W3C trace context and
	// baggage.
	Propagator propagation.TextMapPropagator
}

// Environment variables read for empty Config fields.
const (
	EnvService    = "WEFT_SERVICE"
	EnvJoin       = "WEFT_JOIN"
	EnvGossipAddr = "WEFT_GOSSIP_ADDR"
	EnvPolicy     = "WEFT_POLICY"
	EnvAdminAddr  = "WEFT_ADMIN_ADDR"
)

const defaultDrainDelay = time.Second

// withDefaults returns a copy of c with empty fields filled from the
// environment and the defaults, or an error naming what is missing.
func (c Config) withDefaults() (Config, error) {
	fill := func(v *string, env string) {
		if *v == "" {
			*v = os.Getenv(env)
		}
	}
	fill(&c.Service, EnvService)
	fill(&c.GossipAddr, EnvGossipAddr)
	fill(&c.PolicyFile, EnvPolicy)
	fill(&c.AdminAddr, EnvAdminAddr)
	if len(c.Join) == 0 {
		for s := range strings.SplitSeq(os.Getenv(EnvJoin), ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.Join = append(c.Join, s)
			}
		}
	}
	if c.GossipAddr == "" {
		c.GossipAddr = "127.0.0.1:0"
	}
	if c.DrainDelay == 0 {
		c.DrainDelay = defaultDrainDelay
	}
	if c.Weight == 0 {
		c.Weight = 1
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Service == "" {
		return c, fmt.Errorf("mesh: no service name: set Config.Service or $%s", EnvService)
	}
	if !isDNSLabel(c.Service) {
		return c, fmt.Errorf("mesh: service name %q is not a DNS label: use lowercase letters, digits and '-', at most 63 characters", c.Service)
	}
	if c.DrainDelay < 0 {
		return c, fmt.Errorf("mesh: DrainDelay %v is negative", c.DrainDelay)
	}
	return c, nil
}

func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
