package discovery

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestThreeMembersConverge(t *testing.T) {
	ms := cluster(t, "alpha", "beta", "gamma")
	if !waitFor(t, 5*time.Second, func() bool { return converged(ms...) }) {
		for _, m := range ms {
			t.Logf("%s sees %v", m.Name(), m.View().Services())
		}
		t.Fatal("views did not converge")
	}
	for _, m := range ms {
		if got := m.View().Services(); !slices.Equal(got, []string{"alpha", "beta", "gamma"}) {
			t.Errorf("%s: Services() = %v", m.Name(), got)
		}
		if !m.View().Has("beta") || m.View().Has("delta") {
			t.Errorf("%s: Has is wrong", m.Name())
		}
		in := find(m.View(), "gamma", ms[2].Name())
		if in.Version != "v1" || in.Zone != "zone-a" || in.State != StateStarting || in.Seq != 1 {
			t.Errorf("%s: gamma entry = %+v", m.Name(), in)
		}
		if e, ok := in.EndpointFor("http"); !ok || e.Addr != "127.0.0.1:8080" {
			t.Errorf("%s: gamma endpoint = %v %v", m.Name(), e, ok)
		}
	}
	if !waitFor(t, 5*time.Second, func() bool {
		for _, m := range ms {
			if m.Stats().Members != 3 || len(m.Members()) != 3 {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("member counts: %+v", ms[0].Members())
	}
	for _, mem := range ms[0].Members() {
		if mem.Status != StatusAlive || mem.Service == "" || mem.Addr == "" {
			t.Errorf("member %+v", mem)
		}
	}
	st := ms[0].Stats()
	if st.Instances != 3 || st.ViewVersion == 0 || st.DroppedPackets != 0 || st.DroppedEntries != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestNodeNameAndAddr(t *testing.T) {
	m := start(t, testConfig(t, "orders"))
	name := m.Name()
	if !strings.HasPrefix(name, "orders-") || len(name) != len("orders-")+8 {
		t.Errorf("Name() = %q, want orders-<8 hex>", name)
	}
	host, port, err := net.SplitHostPort(m.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q", m.Addr())
	}
	// The port is really bound, for UDP and TCP alike.
	if c, err := net.Dial("tcp", m.Addr()); err != nil {
		t.Errorf("dial tcp %s: %v", m.Addr(), err)
	} else {
		c.Close()
	}
	if l, err := net.ListenPacket("udp", m.Addr()); err == nil {
		l.Close()
		t.Errorf("UDP port %s is free", m.Addr())
	}
	other := start(t, testConfig(t, "orders"))
	if other.Name() == name {
		t.Errorf("two members got the same name %q", name)
	}
	local := m.Local()
	if local.Node != name || local.State != StateStarting || local.Seq != 1 {
		t.Errorf("Local() = %+v", local)
	}
	local.Zone = "changed"
	if m.Local().Zone != "zone-a" {
		t.Error("Local() returned shared state")
	}
}

// TestEntriesReachEveryone joins members in a chain, each through the
// previous one, with periodic push/pull out of the way: entries reach
// members that never exchanged state at join only through gossip, relays
// and repairs.
func TestEntriesReachEveryone(t *testing.T) {
	var ms []*Membership
	for _, s := range []string{"s0", "s1", "s2", "s3", "s4", "s5"} {
		cfg := testConfig(t, s)
		cfg.Timing.PushPullInterval = time.Minute
		if len(ms) > 0 {
			cfg.Join = []string{ms[len(ms)-1].Addr()}
		}
		ms = append(ms, start(t, cfg))
	}
	begin := time.Now()
	if !waitFor(t, 5*time.Second, func() bool { return converged(ms...) }) {
		for _, m := range ms {
			t.Logf("%s sees %v %+v", m.Name(), m.View().Services(), m.Stats())
		}
		t.Fatal("no convergence")
	}
	var repairs uint64
	for _, m := range ms {
		repairs += m.Stats().Repairs
	}
	t.Logf("converged %v after the last join, with %d repairs", time.Since(begin), repairs)
	if err := ms[0].Update(func(in *Instance) { in.State = StateReady }); err != nil {
		t.Fatal(err)
	}
	if !waitFor(t, 2*time.Second, func() bool {
		for _, m := range ms {
			in := find(m.View(), "s0", ms[0].Name())
			if in == nil || in.Seq != 2 {
				return false
			}
		}
		return true
	}) {
		t.Fatal("full entry did not reach everyone")
	}
}

// deadAddr returns a loopback address nobody listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestJoinDeadSeedFails(t *testing.T) {
	seeds := []string{deadAddr(t), deadAddr(t)}
	cfg := testConfig(t, "lonely", seeds...)
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	defer cancel()
	begin := time.Now()
	m, err := Start(ctx, cfg)
	if err == nil {
		m.Close()
		t.Fatal("Start succeeded with dead seeds")
	}
	if time.Since(begin) < 500*time.Millisecond {
		t.Errorf("gave up after %v, before ctx ended", time.Since(begin))
	}
	for _, want := range []string{"discovery: join: no seed answered in ", "seed " + seeds[0] + ": connection refused: nothing listens there", "seed " + seeds[1] + ": connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to say %q", err, want)
		}
	}
	var je *JoinError
	if !errors.As(err, &je) || !slices.Equal(je.Seeds, seeds) {
		t.Errorf("error %v is not a JoinError with the seeds", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap the context's error", err)
	}
	t.Log(err)
}

func TestJoinRetriesUntilSeedAppears(t *testing.T) {
	// Reserve a port, start joining it, and start the seed on it once
	// the joiner has failed at least twice.
	seedAddr := deadAddr(t)
	failures := make(chan struct{}, 100)
	cfg := testConfig(t, "late", seedAddr)
	cfg.Logger = slog.New(&hookHandler{fn: func(r slog.Record) {
		if strings.Contains(r.Message, "failed to join "+seedAddr) {
			failures <- struct{}{}
		}
	}})
	type result struct {
		m   *Membership
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		m, err := Start(ctx, cfg)
		done <- result{m, err}
	}()
	for range 2 {
		select {
		case <-failures:
		case r := <-done:
			t.Fatalf("Start returned before the seed existed: %v", r.err)
		}
	}
	seedCfg := testConfig(t, "seed")
	seedCfg.BindAddr = seedAddr
	seed := start(t, seedCfg)
	r := <-done
	if r.err != nil {
		t.Fatalf("join: %v", r.err)
	}
	t.Cleanup(func() { r.m.Close() })
	if !waitFor(t, 5*time.Second, func() bool { return converged(seed, r.m) }) {
		t.Fatal("no convergence")
	}
}

// hookHandler is a slog.Handler that hands every record to fn.
type hookHandler struct{ fn func(slog.Record) }

func (h *hookHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *hookHandler) Handle(_ context.Context, r slog.Record) error {
	h.fn(r)
	return nil
}
func (h *hookHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *hookHandler) WithGroup(string) slog.Handler      { return h }

func TestStartRejectsBadConfig(t *testing.T) {
	big := map[string]string{}
	for i := range MaxLabels {
		big[strings.Repeat("k", 10)+string(rune('a'+i%26))+string(rune('a'+i/26))] = strings.Repeat("v", 200)
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no mesh name", func(c *Config) { c.MeshName = "" }, "MeshName"},
		{"bad mesh name", func(c *Config) { c.MeshName = "a b" }, "MeshName"},
		{"short key", func(c *Config) { c.Key = []byte("short") }, "Key: 5 bytes"},
		{"host name bind", func(c *Config) { c.BindAddr = "localhost:0" }, "BindAddr"},
		{"no port", func(c *Config) { c.BindAddr = "127.0.0.1" }, "BindAddr"},
		{"bad port", func(c *Config) { c.BindAddr = "127.0.0.1:70000" }, "BindAddr"},
		{"bad advertise", func(c *Config) { c.AdvertiseAddr = "nowhere" }, "AdvertiseAddr"},
		{"advertise port 0", func(c *Config) { c.AdvertiseAddr = "127.0.0.1:0" }, "AdvertiseAddr"},
		{"bad seed", func(c *Config) { c.Join = []string{"127.0.0.1"} }, "seed"},
		{"no service", func(c *Config) { c.Local.Service = "" }, "service"},
		{"bad service", func(c *Config) { c.Local.Service = "Orders_API" }, "service"},
		{"bad endpoint", func(c *Config) { c.Local.Endpoints = []Endpoint{{Protocol: "ftp", Addr: "127.0.0.1:21"}} }, "protocol"},
		{"bad state", func(c *Config) { c.Local.State = 9 }, "state"},
		{"bad timing", func(c *Config) { c.Timing.ProbeTimeout = time.Second }, "probeTimeout"},
		{"too large", func(c *Config) { c.Local.Labels = big }, "limit is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "svc")
			tt.edit(&cfg)
			m, err := Start(t.Context(), cfg)
			if err == nil {
				m.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.HasPrefix(err.Error(), "discovery: config: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	first := start(t, testConfig(t, "first"))
	cfg := testConfig(t, "second")
	cfg.BindAddr = first.Addr()
	m, err := Start(t.Context(), cfg)
	if err == nil {
		m.Close()
		t.Fatal("two members bound the same port")
	}
	if !strings.HasPrefix(err.Error(), "discovery: start on "+first.Addr()+": ") {
		t.Errorf("error = %q", err)
	}
}

func TestLeaveAndCloseAreIdempotent(t *testing.T) {
	m := start(t, testConfig(t, "once"))
	if err := m.Leave(t.Context()); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if err := m.Leave(t.Context()); err != nil {
		t.Errorf("second Leave: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close after Leave: %v", err)
	}
	if err := m.Update(func(in *Instance) { in.State = StateReady }); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Leave = %v, want ErrClosed", err)
	}
	m2 := start(t, testConfig(t, "twice"))
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m2.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := m2.Leave(t.Context()); err != nil {
		t.Errorf("Leave after Close: %v", err)
	}
	_ = m2.View() // still readable
	_ = m2.Stats()
}
