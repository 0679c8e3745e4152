package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/weftmesh/weft/mesh"
)

// weftSetup is what distinguishes the Weft modes.
type weftSetup struct {
	policy string // the kind of policy file (policyPlain, policyMTLS)
	// tracing records every trace: with an in-process exporter that
	// drops the spans, or, when the run has a collector (-otlp), by the
	// policy's OTLP exporter.
	tracing bool
}

// startNode starts a Weft node for service, joined to join, and returns
// it with the function that shuts it down (idempotent).
func startNode(ctx context.Context, env childEnv, s weftSetup, service string, join []string) (*mesh.Node, func(), error) {
	cfg := mesh.Config{
		Service:    service,
		GossipAddr: "127.0.0.1:0",
		Join:       join,
		PolicyFile: env.dir.policyPath(s.policy),
		// Nothing is in flight when a run stops its processes.
		DrainDelay: 10 * time.Millisecond,
		Logger:     env.logger,
	}
	var tp *sdktrace.TracerProvider
	if s.tracing {
		if env.otlp {
			cfg.PolicyFile = env.dir.policyPath(policyOTLP)
		} else {
			tp = sdktrace.NewTracerProvider(
				sdktrace.WithBatcher(tracetest.NewNoopExporter()),
				sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
			cfg.TracerProvider = tp
		}
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := mesh.Start(startCtx, cfg)
	if err != nil {
		if tp != nil {
			tp.Shutdown(context.Background())
		}
		return nil, nil, err
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := n.Shutdown(ctx); err != nil {
				env.logger.Warn("weft-bench: node shutdown", "err", err)
			}
			if tp != nil {
				tp.Shutdown(ctx)
			}
		})
	}
	return n, stop, nil
}

// awaitAnswer sends a first request until one is answered: a Weft
// client can send once gossip has brought it the server's endpoint.
func awaitAnswer(ctx context.Context, ep *endpoint) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := ep.describe(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer from %s within 30s: %w", serverService, err)
		case <-tick.C:
		}
	}
}
