package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/security"
)

// instance is one serving service instance of the shop: a node of its
// own, the endpoint it serves on and what that endpoint served.
type instance struct {
	label   string // "checkout #2", for people
	service string
	version string
	node    *mesh.Node
	addr    string
	stats   requestStats

	served   chan struct{} // closed when Serve returned
	serveErr error         // Serve's result, once served is closed

	mu     sync.Mutex
	killed bool // stopped with Close, not Shutdown
}

func (in *instance) wasKilled() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.killed
}

// shop is the whole mesh of the quickstart: the serving instances and the
// client-only node that sends the load.
type shop struct {
	loadgen   *mesh.Node
	instances []*instance // in table order
}

// instanceSpec says what one instance hosts.
type instanceSpec struct {
	service, version string
}

// topology lists the shop's serving instances, in table order.
func topology() []instanceSpec {
	return []instanceSpec{
		{"frontend", ""}, {"frontend", ""},
		{"checkout", ""}, {"checkout", ""},
		{"payments", "v1"}, {"payments", "v1"}, {"payments", "v2"},
		{"inventory", ""}, {"inventory", ""},
	}
}

// downstream returns the services a service calls.
func downstream(service string) []string {
	switch service {
	case loadgenService:
		return []string{"frontend"}
	case "frontend":
		return []string{"inventory", "checkout"}
	case "checkout":
		return []string{"payments"}
	}
	return nil
}

const loadgenService = "loadgen"

// shopConfig is what every node of the shop shares.
type shopConfig struct {
	policyFile string
	adminAddr  string // the loadgen's admin endpoint; "" for none
	logger     *slog.Logger
}

// startShop starts the loadgen node, then every instance joined to it, and
// returns once every caller balances over every instance of the services
// it calls. On error, whatever it started is stopped.
func startShop(ctx context.Context, cfg shopConfig) (*shop, error) {
	lg, err := mesh.Start(ctx, mesh.Config{
		Service:    loadgenService,
		GossipAddr: "127.0.0.1:0",
		PolicyFile: cfg.policyFile,
		AdminAddr:  cfg.adminAddr,
		Logger:     cfg.logger.With("instance", loadgenService),
	})
	if err != nil {
		if cfg.adminAddr != "" {
			return nil, fmt.Errorf("start %s (admin endpoint on %s; pass -admin \"\" to run without it, or another address): %w", loadgenService, cfg.adminAddr, err)
		}
		return nil, fmt.Errorf("start %s: %w", loadgenService, err)
	}
	s := &shop{loadgen: lg}
	seed := []string{lg.GossipAddr()}
	count := make(map[string]int)
	for _, spec := range topology() {
		count[spec.service]++
		in, err := startInstance(ctx, spec, fmt.Sprintf("%s #%d", spec.service, count[spec.service]), seed, cfg)
		if err != nil {
			s.close()
			return nil, err
		}
		s.instances = append(s.instances, in)
	}
	if err := s.waitReady(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// startInstance starts one node and serves its service's handler, measured,
// on a free loopback port.
func startInstance(ctx context.Context, spec instanceSpec, label string, seed []string, cfg shopConfig) (*instance, error) {
	admin := ""
	if cfg.adminAddr != "" {
		// Every node counts its own traffic for the dashboard, which the
		// loadgen's admin endpoint reads from each of them: they get
		// admin endpoints of their own, on free ports.
		admin = "127.0.0.1:0"
	}
	n, err := mesh.Start(ctx, mesh.Config{
		Service:    spec.service,
		Version:    spec.version,
		GossipAddr: "127.0.0.1:0",
		Join:       seed,
		PolicyFile: cfg.policyFile,
		AdminAddr:  admin,
		Logger:     cfg.logger.With("instance", label),
	})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", label, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("start %s: %w", label, err)
	}
	in := &instance{
		label:   label,
		service: spec.service,
		version: spec.version,
		node:    n,
		addr:    l.Addr().String(),
		served:  make(chan struct{}),
	}
	srv := &http.Server{
		Handler:           measure(&in.stats, handlerFor(spec, n)),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		defer close(in.served)
		in.serveErr = n.Serve(srv, l)
	}()
	return in, nil
}

// waitReady polls until every node balances over every instance of the
// services it calls, or ctx ends.
func (s *shop) waitReady(ctx context.Context) error {
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		missing := s.unready()
		if missing == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the shop did not come up within %v: %s: %w", time.Since(start).Round(time.Millisecond), missing, ctx.Err())
		case <-tick.C:
		}
	}
}

// unready describes the first caller that does not yet see every instance
// of a service it calls, or returns "".
func (s *shop) unready() string {
	want := make(map[string]int)
	for _, in := range s.instances {
		want[in.service]++
	}
	callers := []struct {
		label string
		node  *mesh.Node
	}{{loadgenService, s.loadgen}}
	for _, in := range s.instances {
		callers = append(callers, struct {
			label string
			node  *mesh.Node
		}{in.label, in.node})
	}
	for _, c := range callers {
		for _, svc := range downstream(c.node.Service()) {
			if got := len(c.node.Endpoints(svc)); got != want[svc] {
				return fmt.Sprintf("%s balances over %d of the %d %s endpoints", c.label, got, want[svc], svc)
			}
		}
	}
	return ""
}

// routedTo reports whether any running caller of in's service still
// balances requests over in's endpoint.
func (s *shop) routedTo(in *instance) bool {
	nodes := []*mesh.Node{s.loadgen}
	for _, o := range s.instances {
		if o != in && !o.wasKilled() {
			nodes = append(nodes, o.node)
		}
	}
	for _, n := range nodes {
		if slices.Contains(downstream(n.Service()), in.service) && slices.Contains(n.Endpoints(in.service), in.addr) {
			return true
		}
	}
	return false
}

// inCatalog reports whether the loadgen's catalog still lists in's node.
func (s *shop) inCatalog(in *instance) bool {
	for _, e := range s.loadgen.Catalog().Instances(in.service) {
		if e.Node == in.node.Name() {
			return true
		}
	}
	return false
}

// kill stops in as a crash would.
func (s *shop) kill(in *instance) error {
	in.mu.Lock()
	in.killed = true
	in.mu.Unlock()
	return in.node.Close()
}

// shutdown shuts every node down gracefully and in parallel, the loadgen
// last so that it sees the others leave, and waits for every server to
// stop.
func (s *shop) shutdown(ctx context.Context) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, in := range s.instances {
		if in.wasKilled() {
			continue
		}
		wg.Go(func() {
			if err := in.node.Shutdown(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("shut down %s: %w", in.label, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := s.loadgen.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shut down %s: %w", loadgenService, err))
	}
	for _, in := range s.instances {
		<-in.served
		if in.serveErr != nil && !errors.Is(in.serveErr, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("%s stopped serving: %w", in.label, in.serveErr))
		}
	}
	return errors.Join(errs...)
}

// close stops every node at once; it is for failed startups.
func (s *shop) close() {
	for _, in := range s.instances {
		in.node.Close()
		<-in.served
	}
	s.loadgen.Close()
}

// served returns how many requests each service served, and each
// payments version.
func (s *shop) served() map[string]uint64 {
	out := make(map[string]uint64)
	for _, in := range s.instances {
		total := in.stats.count()
		out[in.service] += total
		if in.version != "" {
			out[in.service+" "+in.version] += total
		}
	}
	return out
}

// servedSummary formats served() as "frontend 120, checkout 120, payments
// 120 (v1 80, v2 40), inventory 120", in topology order.
func (s *shop) servedSummary() string {
	counts := s.served()
	var parts, seen []string
	for _, in := range s.instances {
		if slices.Contains(seen, in.service) {
			continue
		}
		seen = append(seen, in.service)
		part := fmt.Sprintf("%s %d", in.service, counts[in.service])
		var versions []string
		for _, o := range s.instances {
			v := o.service + " " + o.version
			if o.service == in.service && o.version != "" && !slices.Contains(versions, v) {
				versions = append(versions, v)
			}
		}
		if len(versions) > 0 {
			var vs []string
			for _, v := range versions {
				vs = append(vs, fmt.Sprintf("%s %d", strings.TrimPrefix(v, in.service+" "), counts[v]))
			}
			part += " (" + strings.Join(vs, ", ") + ")"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

// connections adds up how the instances' listeners served connections;
// ok is false when the nodes have no identity (a -policy without one).
func (s *shop) connections() (c security.ListenerStats, ok bool) {
	for _, in := range s.instances {
		id := in.node.Status().Identity
		if id == nil {
			continue
		}
		ok = true
		c.TLS += id.Connections.TLS
		c.Plaintext += id.Connections.Plaintext
		c.Refused += id.Connections.Refused
	}
	return c, ok
}
