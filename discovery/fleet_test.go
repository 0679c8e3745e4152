package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fleet is many real members in one process, on loopback, with counters
// of what their memberlist reported through the log.
type fleet struct {
	timing  Timing
	seeds   []*Membership
	members []*Membership // seeds included
	events  *gossipEvents
	before  goleak.Option // the goroutines running before the fleet

	mu     sync.Mutex
	failed int // Start calls that returned an error
	errs   []error
}

// gossipEvents counts memberlist log lines that matter at fleet size.
// It is a slog.Handler shared by every member of a fleet.
type gossipEvents struct {
	suspicions atomic.Int64 // "Suspect x has failed, no acks received"
	deaths     atomic.Int64 // "Marking x as failed, suspect timeout reached"
	queueFull  atomic.Int64 // "handler queue full, dropping message"
	refutes    atomic.Int64 // "Refuting a suspect/dead message"
}

func (e *gossipEvents) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (e *gossipEvents) WithAttrs([]slog.Attr) slog.Handler           { return e }
func (e *gossipEvents) WithGroup(string) slog.Handler                { return e }

func (e *gossipEvents) Handle(_ context.Context, r slog.Record) error {
	switch msg := r.Message; {
	case strings.HasPrefix(msg, "Suspect ") && strings.HasSuffix(msg, "no acks received"):
		e.suspicions.Add(1)
	case strings.HasPrefix(msg, "Marking ") && strings.Contains(msg, "as failed"):
		e.deaths.Add(1)
	case strings.Contains(msg, "handler queue full"):
		e.queueFull.Add(1)
	case strings.HasPrefix(msg, "Refuting a"):
		e.refutes.Add(1)
	}
	return nil
}

// fleetServices is how many services a fleet's members spread over.
const fleetServices = 100

// fleetConfig is a member of a fleet: a realistic entry (version, zone,
// HTTP and admin endpoints) for one of fleetServices services.
func fleetConfig(i int, timing Timing, logger *slog.Logger, seeds []string) Config {
	return Config{
		MeshName: testMesh,
		Key:      testKey,
		BindAddr: "127.0.0.1:0",
		Join:     seeds,
		Timing:   timing,
		Logger:   logger,
		Local: Instance{
			Service: fmt.Sprintf("svc-%d", i%fleetServices),
			Version: "v1",
			Zone:    fmt.Sprintf("zone-%c", 'a'+i%3),
			State:   StateReady,
			Endpoints: []Endpoint{
				{Protocol: "http", Addr: fmt.Sprintf("127.0.0.1:%d", 20000+i)},
				{Protocol: "admin", Addr: fmt.Sprintf("127.0.0.1:%d", 40000+i)},
			},
		},
	}
}

// newFleet starts seeds members one after the other, each joining the
// ones before it.
func newFleet(tb testing.TB, timing Timing, seeds int) *fleet {
	tb.Helper()
	f := &fleet{timing: timing, events: new(gossipEvents), before: goleak.IgnoreCurrent()}
	for i := range seeds {
		var join []string
		for _, s := range f.seeds {
			join = append(join, s.Addr())
		}
		m, err := f.start(tb.Context(), i, join)
		if err != nil {
			f.close()
			tb.Fatalf("seed %d: %v", i, err)
		}
		f.seeds = append(f.seeds, m)
	}
	return f
}

func (f *fleet) seedAddrs() []string {
	var out []string
	for _, s := range f.seeds {
		out = append(out, s.Addr())
	}
	return out
}

// start starts member i joining the seeds, and counts a failure.
func (f *fleet) start(ctx context.Context, i int, join []string) (*Membership, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	m, err := Start(ctx, fleetConfig(i, f.timing, slog.New(f.events), join))
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.failed++
		f.errs = append(f.errs, err)
		return nil, err
	}
	f.members = append(f.members, m)
	return m, nil
}

// grow starts n more members one after the other and returns when the
// last one has started.
func (f *fleet) grow(ctx context.Context, n int) {
	first := len(f.members)
	for i := range n {
		_, _ = f.start(ctx, first+i, f.seedAddrs())
	}
}

// storm starts n more members at once and returns when the last Start
// returned.
func (f *fleet) storm(ctx context.Context, n int) {
	first := len(f.members)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			_, _ = f.start(ctx, first+i, f.seedAddrs())
		})
	}
	close(gate)
	wg.Wait()
}

// fullView reports whether m's view holds n entries and memberlist
// counts n live members (alive or suspect): with n members running, m
// sees every one of them.
func fullView(m *Membership, n int) bool {
	st := m.Stats()
	return st.Members == n && st.Instances == n
}

// waitFullView waits until every member has a full view at the same
// time, or timeout passes; it returns when that happened. A member
// already seen with a full view is checked again only when all others
// have one, so the wait costs little while gossip runs.
func (f *fleet) waitFullView(timeout time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	n := len(f.members)
	pending := slices.Clone(f.members)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		pending = slices.DeleteFunc(pending, func(m *Membership) bool { return fullView(m, n) })
		if len(pending) == 0 {
			at := time.Now()
			for _, m := range f.members {
				if !fullView(m, n) {
					pending = append(pending, m)
				}
			}
			if len(pending) == 0 {
				return at, true
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		<-tick.C
	}
}

// laggards describes the members without a full view, for failures.
func (f *fleet) laggards() string {
	n := len(f.members)
	var b strings.Builder
	shown := 0
	for _, m := range f.members {
		if fullView(m, n) {
			continue
		}
		if shown < 5 {
			fmt.Fprintf(&b, "%s %+v; ", m.Name(), m.Stats())
		}
		shown++
	}
	fmt.Fprintf(&b, "%d of %d without a full view", shown, n)
	return b.String()
}

// dropped sums the members' dropped packet counters.
func (f *fleet) dropped() uint64 {
	var n uint64
	for _, m := range f.members {
		n += m.Stats().DroppedPackets
	}
	return n
}

func (f *fleet) repairs() uint64 {
	var n uint64
	for _, m := range f.members {
		n += m.Stats().Repairs
	}
	return n
}

// close stops every member at once, then waits until memberlist's
// probes in flight have ended too: they outlive Shutdown by up to a
// probe interval stretched by the health score.
func (f *fleet) close() {
	var wg sync.WaitGroup
	for _, m := range f.members {
		wg.Go(func() { _ = m.Close() })
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for goleak.Find(f.before) != nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

// TestJoinStorm starts 63 members at once against three seeds: every
// join succeeds, and every member comes to see every other. The members
// use LAN timing, which leaves room for a machine slowed by the race
// detector; BenchmarkConvergence measures larger storms.
func TestJoinStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 66 members")
	}
	f := newFleet(t, DefaultLANTiming(), 3)
	defer f.close()
	f.storm(t.Context(), 63)
	started := time.Now()
	if f.failed > 0 {
		t.Fatalf("%d of 63 joins failed: %v", f.failed, f.errs[0])
	}
	at, ok := f.waitFullView(60 * time.Second)
	if !ok {
		t.Fatalf("no full view after 60s: %s", f.laggards())
	}
	t.Logf("full view %v after the last start; %d suspicions, %d false deaths, %d dropped packets, %d repairs",
		at.Sub(started).Round(time.Millisecond), f.events.suspicions.Load(), f.events.deaths.Load(), f.dropped(), f.repairs())
}
