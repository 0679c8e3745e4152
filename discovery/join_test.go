package discovery

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// joinError starts a member joining seed with cfg edited by edit, and
// returns Start's error, which must come within a second and a half.
func joinError(t *testing.T, seed string, edit func(*Config)) error {
	t.Helper()
	cfg := testConfig(t, "joiner", seed)
	edit(&cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	m, err := Start(ctx, cfg)
	if err == nil {
		m.Close()
		t.Fatal("join succeeded")
	}
	var je *JoinError
	if !errors.As(err, &je) || je.Attempts < 1 || len(je.Last) == 0 {
		t.Fatalf("error %v is not a JoinError with attempts and reasons", err)
	}
	return err
}

func TestJoinFailuresSayWhy(t *testing.T) {
	seed := start(t, testConfig(t, "seed"))
	plain := testConfig(t, "plain")
	plain.Key = nil
	plainSeed := start(t, plain)
	otherKey := []byte("fedcba9876543210fedcba9876543210")
	cases := []struct {
		name string
		seed string
		edit func(*Config)
		want string
	}{
		{"wrong key", seed.Addr(), func(c *Config) { c.Key = otherKey }, "set the same mesh.gossipKey on both"},
		{"no key", seed.Addr(), func(c *Config) { c.Key = nil }, "set the same mesh.gossipKey on both"},
		{"key against no key", plainSeed.Addr(), func(c *Config) {}, "this member encrypts gossip and the seed does not"},
		{"wrong mesh name", seed.Addr(), func(c *Config) { c.MeshName = "other-mesh" }, "mesh.name"},
		{"nothing listens", deadAddr(t), func(c *Config) {}, "connection refused: nothing listens there"},
		{"unreachable", seed.Addr(), func(c *Config) {
			c.Faults = new(Faults)
			_ = c.Faults.Set(1, 0)
			c.Timing.TCPTimeout = 300 * time.Millisecond
		}, "timed out"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var warned []string
			err := joinError(t, tc.seed, func(c *Config) {
				tc.edit(c)
				c.Logger = slog.New(&hookHandler{fn: func(r slog.Record) {
					if r.Level == slog.LevelWarn && strings.Contains(r.Message, "join attempt failed") {
						r.Attrs(func(a slog.Attr) bool {
							if a.Key == "err" {
								mu.Lock()
								warned = append(warned, a.Value.String())
								mu.Unlock()
							}
							return true
						})
					}
				}})
			})
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant it to say %q", err, tc.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(warned) == 0 || !strings.Contains(warned[0], tc.want) {
				t.Errorf("warnings %q, want each attempt logged with %q", warned, tc.want)
			}
			t.Log(err)
		})
	}
}

// fakeDNS makes seed host names resolve through names for the test.
func fakeDNS(t *testing.T, names map[string][]string) {
	old := lookupHost
	lookupHost = func(_ context.Context, host string) ([]string, error) {
		if ips, ok := names[host]; ok {
			return ips, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	t.Cleanup(func() { lookupHost = old })
}

func TestJoinSeedNames(t *testing.T) {
	t.Run("a name that resolves to nothing", func(t *testing.T) {
		fakeDNS(t, nil)
		err := joinError(t, "seeds.weft.test:7946", func(*Config) {})
		if want := "seed seeds.weft.test:7946: its host name does not resolve to any address"; !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want %q", err, want)
		}
	})
	t.Run("a name with many addresses", func(t *testing.T) {
		// Three members on one port of three loopback addresses, known by
		// one name: the joiner reaches the one that runs, then all.
		port := freePort(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
		fakeDNS(t, map[string][]string{"seeds.weft.test": {"127.0.0.2", "127.0.0.3", "127.0.0.4"}})
		seedName := net.JoinHostPort("seeds.weft.test", port)
		first := testConfig(t, "first")
		first.BindAddr = net.JoinHostPort("127.0.0.3", port)
		a := start(t, first)
		joiner := testConfig(t, "joiner", seedName)
		b := start(t, joiner)
		if !waitFor(t, 5*time.Second, func() bool { return converged(a, b) }) {
			t.Fatal("the joiner did not reach the running seed")
		}
		// Members started later on the other addresses join by the name
		// too, and find the ones running.
		var late []*Membership
		for _, ip := range []string{"127.0.0.2", "127.0.0.4"} {
			c := testConfig(t, "late", seedName)
			c.BindAddr = net.JoinHostPort(ip, port)
			late = append(late, start(t, c))
		}
		if !waitFor(t, 10*time.Second, func() bool { return converged(append([]*Membership{a, b}, late...)...) }) {
			t.Fatalf("members started later did not join: joiner sees %v", names(b.Members()))
		}
	})
}

// freePort returns a port free for UDP and TCP on every ip.
func freePort(t *testing.T, ips ...string) string {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", ips[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(l.Addr().String())
		l.Close()
		ok := true
		for _, ip := range ips {
			for _, network := range []string{"tcp", "udp"} {
				addr := net.JoinHostPort(ip, port)
				if network == "tcp" {
					if l, err := net.Listen("tcp", addr); err == nil {
						l.Close()
						continue
					}
				} else if c, err := net.ListenPacket("udp", addr); err == nil {
					c.Close()
					continue
				}
				ok = false
			}
		}
		if ok {
			return port
		}
	}
	t.Fatal("no port free on every address")
	return ""
}

func names(ms []Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name+"="+m.Status.String())
	}
	slices.Sort(out)
	return out
}

func TestBadSeedsAreRejected(t *testing.T) {
	for seed, want := range map[string]string{
		"10.0.0.1":         "want host:port",
		":7946":            "want host:port",
		"10.0.0.1:http":    `port "http": want a number from 1 to 65535`,
		"10.0.0.1:0":       `port "0"`,
		"10.0.0.1:70000":   `port "70000"`,
		"[::1]:7946:7946":  "want host:port",
		"weft.example.svc": "want host:port",
	} {
		cfg := testConfig(t, "bad", seed)
		_, err := cfg.check()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("seed %q: error %v, want %q", seed, err, want)
		}
	}
}

func TestJoinGivesUpByDefault(t *testing.T) {
	cfg := testConfig(t, "patient", deadAddr(t))
	cfg.JoinTimeout = 700 * time.Millisecond
	begin := time.Now()
	m, err := Start(context.Background(), cfg)
	if err == nil {
		m.Close()
		t.Fatal("joined a dead seed")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not say the join timed out", err)
	}
	if d := time.Since(begin); d < 700*time.Millisecond || d > 10*time.Second {
		t.Errorf("gave up after %v, want about the join timeout", d)
	}
	if cfg.JoinTimeout = -time.Second; true {
		if _, err := cfg.check(); err == nil || !strings.Contains(err.Error(), "JoinTimeout") {
			t.Errorf("negative JoinTimeout: %v", err)
		}
	}
}

// TestJoinSkipsOwnAddress gives members a seed list that holds their own
// address, as a DNS name of every member does. Joining oneself succeeds
// without reaching anyone; a member must reach another seed instead, or,
// when none answers, start the mesh.
func TestJoinSkipsOwnAddress(t *testing.T) {
	a := start(t, testConfig(t, "first"))
	own := func() string { return net.JoinHostPort("127.0.0.1", freePort(t, "127.0.0.1")) }
	t.Run("another seed runs", func(t *testing.T) {
		// In random order, a member that could join itself would do so
		// in half of the starts.
		for range 6 {
			cfg := testConfig(t, "joiner")
			cfg.BindAddr = own()
			cfg.Join = []string{cfg.BindAddr, a.Addr()}
			b := start(t, cfg)
			if n := b.Stats().Members; n < 2 {
				t.Fatalf("joined with %d member(s) in view: it joined itself, not the running seed", n)
			}
			b.Close()
		}
	})
	t.Run("the only seed", func(t *testing.T) {
		cfg := testConfig(t, "alone")
		cfg.BindAddr = own()
		cfg.Join = []string{cfg.BindAddr}
		b := start(t, cfg)
		if n := b.Stats().Members; n != 1 {
			t.Errorf("%d members, want 1", n)
		}
	})
	t.Run("no other seed answers", func(t *testing.T) {
		cfg := testConfig(t, "seed")
		cfg.BindAddr = own()
		late := own()
		cfg.Join = []string{late, cfg.BindAddr}
		b := start(t, cfg) // starts the mesh
		// The other seed starts later and joins it through the list.
		lc := testConfig(t, "seed")
		lc.BindAddr = late
		lc.Join = []string{late, cfg.BindAddr}
		c := start(t, lc)
		if !waitFor(t, 5*time.Second, func() bool { return converged(b, c) }) {
			t.Fatalf("the seeds did not find each other: %v", names(b.Members()))
		}
	})
}
