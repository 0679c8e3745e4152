package discovery

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// waitFor polls cond until it holds or timeout passes, and reports whether
// it held.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
}

// testTiming is fast enough for tests, slow enough for the race detector
// on two cores.
func testTiming() Timing {
	return Timing{
		GossipInterval:   50 * time.Millisecond,
		ProbeInterval:    200 * time.Millisecond,
		ProbeTimeout:     100 * time.Millisecond,
		PushPullInterval: 400 * time.Millisecond,
		TCPTimeout:       time.Second,
		SuspicionMult:    2,
		RetransmitMult:   3,
		// Healing is tested with its own, faster, interval.
		ReconnectInterval: time.Second,
	}
}

const testMesh = "weft-test"

var testKey = []byte("0123456789abcdef0123456789abcdef")

// testLogger logs to stderr with -v, at debug level when WEFT_DEBUG is
// set, and discards otherwise.
func testLogger(t testing.TB, name string) *slog.Logger {
	if !testing.Verbose() {
		return discardLogger()
	}
	level := slog.LevelWarn
	if os.Getenv("WEFT_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("member", name)
}

// testConfig returns a loopback config for a member hosting service.
func testConfig(t testing.TB, service string, join ...string) Config {
	return Config{
		MeshName: testMesh,
		Key:      testKey,
		BindAddr: "127.0.0.1:0",
		Join:     join,
		Timing:   testTiming(),
		Logger:   testLogger(t, service),
		Local: Instance{
			Service:   service,
			Version:   "v1",
			Zone:      "zone-a",
			Endpoints: []Endpoint{{Protocol: "http", Addr: "127.0.0.1:8080"}},
		},
	}
}

// start starts a member and closes it when the test ends.
func start(t testing.TB, cfg Config) *Membership {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start %s: %v", cfg.Local.Service, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// cluster starts one member per service, all joined through the first.
func cluster(t testing.TB, services ...string) []*Membership {
	t.Helper()
	var ms []*Membership
	for i, s := range services {
		cfg := testConfig(t, s)
		if i > 0 {
			cfg.Join = []string{ms[0].Addr()}
		}
		ms = append(ms, start(t, cfg))
	}
	return ms
}

// sees reports whether m's view holds node's entry for service.
func sees(m *Membership, service, node string) bool {
	return find(m.View(), service, node) != nil
}

func find(v *View, service, node string) *Instance {
	for _, in := range v.Instances(service) {
		if in.Node == node {
			return in
		}
	}
	return nil
}

// converged reports whether every member's view holds every member's
// entry.
func converged(ms ...*Membership) bool {
	for _, m := range ms {
		for _, o := range ms {
			if !sees(m, o.Local().Service, o.Name()) {
				return false
			}
		}
	}
	return true
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
