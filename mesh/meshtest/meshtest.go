// Package meshtest starts real Weft nodes on loopback inside a test: real
// gossip, real listeners, one mesh per test. It is the mesh's counterpart
// of net/http/httptest.
//
// Everything it starts is stopped by the test's cleanup, so a test that
// uses it stays clean under a goroutine-leak check.
package meshtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/mesh"
)

// Mesh is a set of nodes started by one test, all joined into one mesh:
// each new node is given every earlier node as a seed, so the mesh
// survives the shutdown of any of them.
type Mesh struct {
	t testing.TB
	// PolicyFile, if set, is used by every node started afterwards.
	PolicyFile string
	// Logger is given to every node. By default logs are discarded, or
	// written to stderr when $WEFT_TEST_LOG is set.
	Logger *slog.Logger

	mu    sync.Mutex
	seeds []string // every node started, most recent first
}

// New returns an empty mesh for t.
func New(t testing.TB) *Mesh {
	l := slog.New(slog.DiscardHandler)
	if os.Getenv("WEFT_TEST_LOG") != "" {
		l = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return &Mesh{t: t, Logger: l}
}

// Start starts a node on 127.0.0.1 with a free gossip port, joined to the
// mesh's other nodes, and shuts it down when the test ends. Fields of cfg
// left empty are filled in: GossipAddr, Join, PolicyFile, Logger,
// DrainDelay (200 ms). The test
// fails if the node cannot start.
func (m *Mesh) Start(cfg mesh.Config) *mesh.Node {
	m.t.Helper()
	n, err := m.TryStart(cfg)
	if err != nil {
		m.t.Fatalf("meshtest: start %s: %v", cfg.Service, err)
	}
	return n
}

// TryStart is Start for a node expected to fail: it returns the error.
func (m *Mesh) TryStart(cfg mesh.Config) (*mesh.Node, error) {
	m.mu.Lock()
	seeds := slices.Clone(m.seeds)
	m.mu.Unlock()
	if cfg.GossipAddr == "" {
		cfg.GossipAddr = "127.0.0.1:0"
	}
	if cfg.Join == nil {
		cfg.Join = seeds
	}
	if cfg.PolicyFile == "" {
		cfg.PolicyFile = m.PolicyFile
	}
	if cfg.Logger == nil {
		cfg.Logger = m.Logger
	}
	if cfg.DrainDelay == 0 {
		// Loopback gossip spreads a drain in well under this; tests that
		// measure draining set their own.
		cfg.DrainDelay = 200 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := mesh.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	m.t.Cleanup(func() { shutdown(m.t, n) })
	m.mu.Lock()
	m.seeds = append([]string{n.GossipAddr()}, m.seeds...)
	m.mu.Unlock()
	return n, nil
}

func shutdown(t testing.TB, n *mesh.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Errorf("meshtest: shutdown %s: %v", n.Name(), err)
	}
}

// Backend is a node serving HTTP.
type Backend struct {
	*mesh.Node
	// Addr is the endpoint the backend published.
	Addr string
	done chan struct{}
	err  error
}

// Serve starts a node for cfg and serves h on 127.0.0.1 with a free port.
// It returns once the endpoint is published in the node's own catalog
// entry. The test fails if serving ends with an error other than
// http.ErrServerClosed.
func (m *Mesh) Serve(cfg mesh.Config, h http.Handler) *Backend {
	m.t.Helper()
	n := m.Start(cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		m.t.Fatalf("meshtest: listen: %v", err)
	}
	b := &Backend{Node: n, Addr: l.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.err = n.Serve(&http.Server{Handler: h}, l)
	}()
	m.t.Cleanup(func() {
		shutdown(m.t, n)
		<-b.done
		if b.err != nil && !errors.Is(b.err, http.ErrServerClosed) {
			m.t.Errorf("meshtest: serve %s: %v", b.Addr, b.err)
		}
	})
	WaitFor(m.t, 5*time.Second, "endpoint published", func() bool {
		return slices.Contains(n.Endpoints(cfg.Service), b.Addr)
	})
	return b
}

// Wait blocks until the backend's Serve has returned, after Shutdown or
// Close, and returns its error.
func (b *Backend) Wait() error {
	<-b.done
	return b.err
}

// WaitEndpoints waits until client balances over exactly want endpoints
// of service, failing the test after 10 s.
func WaitEndpoints(t testing.TB, client *mesh.Node, service string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(client.Endpoints(service)) != want {
		if time.Now().After(deadline) {
			var seen []string
			for _, in := range client.Catalog().Instances(service) {
				seen = append(seen, fmt.Sprintf("%s %v %s", in.Node, in.Endpoints, in.State))
			}
			t.Fatalf("meshtest: %s balances over %v after 10s, want %d endpoints of %s; catalog: %v; members: %+v",
				client.Name(), client.Endpoints(service), want, service, seen, client.Status().Members)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitFor polls cond until it is true, failing the test with what after
// timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("meshtest: timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ReadyInstances returns the ready instances of service in node's catalog.
func ReadyInstances(n *mesh.Node, service string) []*discovery.Instance {
	var out []*discovery.Instance
	for _, in := range n.Catalog().Instances(service) {
		if in.State == discovery.StateReady {
			out = append(out, in)
		}
	}
	return out
}
