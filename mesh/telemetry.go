package mesh

import (
	"context"
	"fmt"
	"time"

	"github.com/weftmesh/weft/internal/policy"
	"github.com/weftmesh/weft/resilience/limit"
	"github.com/weftmesh/weft/telemetry"
	"github.com/weftmesh/weft/transport/observe"
)

// startTelemetry builds the node's traces, metrics and access logs from
// the policy and the Config's providers, and puts them on the request
// path of the node's clients and servers when they have anything to do.
// With an admin endpoint, the node also keeps its recent routing
// decisions for /debug/weft.
func (n *Node) startTelemetry(ctx context.Context, pol *policy.Policy, admin bool) error {
	t, err := telemetry.New(ctx, pol.Telemetry, telemetry.Options{
		Service:        n.cfg.Service,
		Version:        n.cfg.Version,
		Instance:       n.members.Name(),
		Mesh:           pol.Mesh.Name,
		TracerProvider: n.cfg.TracerProvider,
		MeterProvider:  n.cfg.MeterProvider,
		Propagator:     n.cfg.Propagator,
		Scrape:         admin,
		Logger:         n.logger,
		NodeStats:      n.nodeStats,
	})
	if err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	n.telemetry = t
	if admin {
		n.decisions = observe.NewDecisionLog(0)
	}
	n.attachTelemetry()
	st := t.Status()
	n.logger.Info("weft: telemetry", "tracing", st.TraceExporter, "sampler", st.Sampler, "metricsPush", st.MetricsExporter, "accessLog", st.AccessLog)
	return nil
}

// attachTelemetry puts the telemetry on the request path when it observes
// anything, and takes it off when it does not, so that a node with no
// tracing, no metrics reader and no access log pays nothing per request.
//
// With an admin endpoint, the routing history, the per-edge counts and
// the tap observe every request too; the telemetry comes first, so that
// they see the trace ID it sets.
func (n *Node) attachTelemetry() {
	var (
		calls   observe.CallObserver
		inbound observe.InboundObserver
	)
	if n.telemetry.Observes() {
		calls, inbound = n.telemetry, n.telemetry
	}
	if a := n.adminSide; a != nil {
		calls = observe.Observers(calls, n.decisions, a.stats, a.tap)
		inbound = observe.InboundObservers(inbound, a.stats, a.tap)
	}
	n.inbound.SetObserver(inbound)
	n.engine.SetObserver(calls)
}

// applyTelemetry applies what changes live in a reloaded policy's
// telemetry section: the sample ratio and the access log.
func (n *Node) applyTelemetry(p *policy.Policy) {
	if err := n.telemetry.Update(p.Telemetry); err != nil {
		n.logger.Error("weft: telemetry settings not applied", "err", err)
		return
	}
	n.attachTelemetry()
}

// flushTimeout bounds how long Shutdown waits for the last spans and
// metrics to reach their collector: one that is down must not hold every
// node's shutdown for the whole of its context.
const flushTimeout = 5 * time.Second

// stopTelemetry flushes and stops what startTelemetry built, within ctx
// and flushTimeout. Telemetry that could not be delivered is logged, not
// returned: the node itself stopped cleanly.
func (n *Node) stopTelemetry(ctx context.Context) {
	if n.telemetry == nil {
		return
	}
	n.engine.SetObserver(nil)
	n.inbound.SetObserver(nil)
	ctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	if err := n.telemetry.Shutdown(ctx); err != nil && ctx.Err() == nil {
		n.logger.Warn("weft: telemetry not flushed", "err", err)
	} else if err != nil {
		n.logger.Warn("weft: telemetry not flushed: the collector did not answer in time; the last spans and metrics are lost", "err", err)
	}
}

// dropTelemetry stops the telemetry at once, as a crash would: spans not
// yet exported are lost.
func (n *Node) dropTelemetry() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // nothing waits: Close must not block on a collector
	n.telemetry.Shutdown(ctx)
}

// nodeStats is what the node-level metrics read at each collection.
func (n *Node) nodeStats() telemetry.NodeStats {
	gs := n.members.Stats()
	s := telemetry.NodeStats{
		Members:                make(map[string]int),
		GossipDroppedPackets:   gs.DroppedPackets,
		GossipDroppedEntries:   gs.DroppedEntries,
		GossipRepairs:          gs.Repairs,
		GossipHealthScore:      gs.HealthScore,
		GossipQueuedBroadcasts: gs.Broadcasts,
		PolicyHash:             n.policy.Load().Hash,
		InboundInFlight:        n.inbound.InFlight(),
	}
	for _, m := range n.members.Members() {
		s.Members[m.Status.String()]++
	}
	select {
	case <-n.ready: // the watcher is set before ready closes
		if n.watcher != nil {
			ws := n.watcher.Stats()
			s.PolicyApplied, s.PolicyRejected = ws.Applied, ws.Rejected
		}
	default:
	}
	if n.identity != nil {
		s.SVIDExpiry = n.identity.Expiry()
	}
	s.AuthorizationDenied, s.AuthorizationWouldDeny = n.inbound.AuthorizationStats()
	if ls, ok := n.inbound.LimitStats(); ok {
		s.Rejected = make(map[string]uint64)
		for reason, count := range ls.Rejected {
			if r := limit.Reason(reason); r != limit.Accepted {
				s.Rejected[r.String()] = count
			}
		}
	}
	for _, d := range n.http.Status() {
		ds := telemetry.DestinationStats{Service: d.Service, Ready: d.Ready, NotReady: d.Unready}
		for _, ep := range d.Endpoints {
			if ep.Ejected {
				ds.Ejected++
			}
			if ep.Breaker == "open" {
				ds.BreakersOpen++
			}
		}
		s.Destinations = append(s.Destinations, ds)
	}
	return s
}
