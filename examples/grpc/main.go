package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/security/devca"
)

// policy is the mesh's policy; %q is the development CA's directory.
const policy = `version: 1
mesh: {name: shop, trustDomain: example.org}
security: {identity: {dev: {ca: %q}}}
services:
  checkout: {}
  reports: {}
  payments:
    loadBalancer: least_request
    timeout: 2s
    retries: {attempts: 3}
    routes:
      # Quote has no side effects: retry and hedge it.
      - {name: quotes, match: {path: /shop.Payments/Quote}, idempotent: true, hedge: {delay: 50ms}}
    inbound:
      authorization:
        rules:
          - {from: [checkout], paths: ["/shop.Payments/*"]}
          - {from: [reports], paths: ["/shop.Payments/Quote"]}
`

func main() {
	duration := flag.Duration("duration", 6*time.Second, "how long checkout sends charges")
	verbose := flag.Bool("v", false, "show the nodes' logs")
	flag.Parse()
	logs := io.Discard
	if *verbose {
		logs = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *duration, os.Stdout, logs); err != nil {
		fmt.Fprintf(os.Stderr, "grpc example: %v\n", err)
		os.Exit(1)
	}
}

// run starts the mesh, sends charges for d (or until ctx ends), drains
// one payments instance halfway, prints what happened to out and stops
// everything. It fails if any charge failed.
func run(ctx context.Context, d time.Duration, out, logs io.Writer) error {
	dir, err := os.MkdirTemp("", "weft-grpc-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	caDir := filepath.Join(dir, "ca")
	if _, err := devca.Init(caDir, spiffeid.RequireTrustDomainFromString("example.org")); err != nil {
		return err
	}
	policyFile := filepath.Join(dir, "mesh.yaml")
	if err := os.WriteFile(policyFile, []byte(fmt.Sprintf(policy, caDir)), 0o644); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(logs, nil))

	// Deferred first, so that it runs after the nodes shut down and their
	// ServeGRPC calls return.
	var serving sync.WaitGroup
	defer serving.Wait()
	var nodes []*mesh.Node
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, n := range nodes {
			n.Shutdown(sctx)
		}
	}()
	start := func(service string) (*mesh.Node, error) {
		var join []string
		if len(nodes) > 0 {
			join = []string{nodes[0].GossipAddr()}
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := mesh.Start(sctx, mesh.Config{Service: service, Join: join, PolicyFile: policyFile, Logger: logger, DrainDelay: 500 * time.Millisecond})
		if err == nil {
			nodes = append(nodes, n)
		}
		return n, err
	}

	// Three payments instances, each a gRPC server on a free port.
	var servers []*payments
	for i := range 3 {
		n, err := start("payments")
		if err != nil {
			return err
		}
		p := &payments{name: fmt.Sprintf("payments-%d", i+1)}
		servers = append(servers, p)
		s := n.NewGRPCServer()
		shoppb.RegisterPaymentsServer(s, p)
		serving.Add(1)
		go func() {
			defer serving.Done()
			if err := n.ServeGRPC(s, "127.0.0.1:0"); err != nil {
				logger.Error("serve", "err", err)
			}
		}()
	}
	checkoutNode, err := start("checkout")
	if err != nil {
		return err
	}
	reportsNode, err := start("reports")
	if err != nil {
		return err
	}
	if err := waitInstances(ctx, checkoutNode, "payments", 3); err != nil {
		return err
	}

	// A channel to payments: balanced, retried and secured by the mesh.
	cc, err := checkoutNode.DialGRPC(ctx, "payments")
	if err != nil {
		return err
	}
	defer cc.Close()
	pc := shoppb.NewPaymentsClient(cc)

	watch, err := pc.Watch(ctx, &shoppb.WatchRequest{PaymentId: "order-1", Updates: 3})
	if err != nil {
		return err
	}
	updates := 0
	for {
		st, err := watch.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return fmt.Errorf("watch: %w", err)
			}
			break
		}
		updates++
		fmt.Fprintf(out, "watch: payment %s is %s (from %s)\n", st.PaymentId, st.State, st.ServedBy)
	}

	// Charges from 4 workers for d; payments-2 drains halfway.
	var sent, failed atomic.Int64
	load, stopLoad := context.WithTimeout(ctx, d)
	defer stopLoad()
	var workers sync.WaitGroup
	for w := range 4 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-load.Done():
					return
				case <-tick.C:
				}
				sent.Add(1)
				if _, err := pc.Charge(ctx, &shoppb.ChargeRequest{OrderId: fmt.Sprintf("w%d-%d", w, i), AmountCents: 1999, Currency: "EUR"}); err != nil {
					failed.Add(1)
					logger.Error("charge failed", "err", err)
				}
			}
		}()
	}
	select {
	case <-time.After(d / 2):
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		fmt.Fprintln(out, "draining payments-2 ...")
		err := nodes[1].Shutdown(dctx)
		cancel()
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "payments-2 drained and left the mesh")
	case <-load.Done():
	}
	workers.Wait()

	batch, err := pc.Batch(ctx)
	if err != nil {
		return err
	}
	for i := range 3 {
		if err := batch.Send(&shoppb.ChargeRequest{OrderId: fmt.Sprint("b", i), AmountCents: 500}); err != nil {
			return err
		}
	}
	sum, err := batch.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	fmt.Fprintf(out, "batch: %d charges, %d cents (by %s)\n", sum.Count, sum.TotalCents, sum.ServedBy)

	// Authorization by method: reports may quote, not charge.
	rc, err := reportsNode.DialGRPC(ctx, "payments")
	if err != nil {
		return err
	}
	defer rc.Close()
	reports := shoppb.NewPaymentsClient(rc)
	if q, err := reports.Quote(ctx, &shoppb.QuoteRequest{OrderId: "o1", Items: 2}); err != nil {
		return fmt.Errorf("reports' quote: %w", err)
	} else {
		fmt.Fprintf(out, "reports: Quote allowed: %d cents\n", q.AmountCents)
	}
	_, err = reports.Charge(ctx, &shoppb.ChargeRequest{OrderId: "o1", AmountCents: 1})
	if status.Code(err) != codes.PermissionDenied {
		return fmt.Errorf("reports' charge: %v, want PermissionDenied", err)
	}
	fmt.Fprintf(out, "reports: Charge refused: %s\n", status.Convert(err).Message())

	fmt.Fprintf(out, "charges: %d sent, %d failed\n", sent.Load(), failed.Load())
	sort.Slice(servers, func(i, j int) bool { return servers[i].name < servers[j].name })
	for _, p := range servers {
		fmt.Fprintf(out, "  %s took %d\n", p.name, p.charges.Load())
	}
	fmt.Fprintf(out, "watch: %d updates\n", updates)
	if failed.Load() > 0 {
		return fmt.Errorf("%d of %d charges failed", failed.Load(), sent.Load())
	}
	return nil
}

// waitInstances waits until n's catalog lists want ready instances of
// service.
func waitInstances(ctx context.Context, n *mesh.Node, service string, want int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		ready := 0
		for _, in := range n.Catalog().Instances(service) {
			if _, ok := in.EndpointFor("grpc"); ok && in.State.String() == "ready" {
				ready++
			}
		}
		if ready == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d %s instances ready: %w", ready, want, service, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
