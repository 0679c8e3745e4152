package telemetry

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// NodeStats is what a node reports each time metrics are collected: the
// state that lives in the node's parts rather than in the request path.
type NodeStats struct {
	// Members counts gossip members by status (alive, suspect, dead,
	// left).
	Members map[string]int
	// Gossip health.
	GossipDroppedPackets, GossipDroppedEntries, GossipRepairs uint64
	GossipHealthScore, GossipQueuedBroadcasts                 int
	// PolicyApplied and PolicyRejected count policy reloads; PolicyHash
	// is the SHA-256 of the policy in force ("" for the built-in one).
	PolicyApplied, PolicyRejected uint64
	PolicyHash                    string
	// SVIDExpiry is when the node's certificate expires; zero without an
	// identity.
	SVIDExpiry time.Time
	// AuthorizationDenied counts requests authorization refused;
	// AuthorizationWouldDeny those a dry-run rule set let through.
	AuthorizationDenied, AuthorizationWouldDeny uint64
	// Rejected counts requests the inbound limits refused, by limit.
	Rejected map[string]uint64
	// InboundInFlight counts requests being served.
	InboundInFlight int64
	// Destinations describes each destination service's endpoints.
	Destinations []DestinationStats
}

// DestinationStats counts one destination's endpoints.
type DestinationStats struct {
	Service string
	// Ready counts the endpoints clients balance over, NotReady the
	// instances starting or draining.
	Ready, NotReady int
	// Ejected and BreakersOpen count ready endpoints taken out of picking
	// by outlier detection or breakers, and by open breakers.
	Ejected, BreakersOpen int
}

// registerNodeMetrics makes the observable instruments that read
// stats() at each collection.
func registerNodeMetrics(m metric.Meter, service string, stats func() NodeStats) (metric.Registration, error) {
	var errs []error
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	var (
		members      = gauge("weft.mesh.members", "{member}", "Gossip members by status.")
		dropPackets  = counter("weft.gossip.dropped_packets", "{packet}", "Gossip packets dropped: undecryptable, from another mesh, or malformed.")
		dropEntries  = counter("weft.gossip.dropped_entries", "{entry}", "Catalog entries received from peers and rejected.")
		repairs      = counter("weft.gossip.repairs", "{exchange}", "Direct state exchanges with members whose entries gossip had not delivered.")
		health       = gauge("weft.gossip.health_score", "", "Memberlist's awareness score: 0 is healthy, higher means slow to answer probes.")
		queued       = gauge("weft.gossip.broadcasts_queued", "{broadcast}", "Catalog broadcasts waiting to be gossiped.")
		reloads      = counter("weft.policy.reloads", "{reload}", "Policy reloads, by result (applied, rejected).")
		policyInfo   = gauge("weft.policy.info", "", "1 for the policy in force, labelled with its SHA-256.")
		denials      = counter("weft.server.authorization.denials", "{request}", "Requests authorization refused (mode enforce) or would have refused (mode dry_run).")
		rejections   = counter("weft.server.rejections", "{request}", "Requests the inbound limits refused, by limit.")
		serverActive = gauge("weft.server.active_requests", "{request}", "Requests being served.")
		endpoints    = gauge("weft.client.endpoints", "{endpoint}", "Endpoints of each destination: ready (balanced over) or not_ready (starting or draining).")
		ejected      = gauge("weft.client.endpoints.ejected", "{endpoint}", "Ready endpoints out of picking after outlier detection or a breaker ejected them.")
		open         = gauge("weft.client.breakers.open", "{breaker}", "Endpoint circuit breakers open now.")
	)
	svid, err := m.Float64ObservableGauge("weft.svid.time_to_expiry", metric.WithUnit("s"),
		metric.WithDescription("Seconds until the node's SVID expires; absent without an identity."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	dst := keyDestination.String(service)
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := stats()
		for status, n := range s.Members {
			o.ObserveInt64(members, int64(n), metric.WithAttributes(keyStatus.String(status)))
		}
		o.ObserveInt64(dropPackets, int64(s.GossipDroppedPackets))
		o.ObserveInt64(dropEntries, int64(s.GossipDroppedEntries))
		o.ObserveInt64(repairs, int64(s.GossipRepairs))
		o.ObserveInt64(health, int64(s.GossipHealthScore))
		o.ObserveInt64(queued, int64(s.GossipQueuedBroadcasts))
		o.ObserveInt64(reloads, int64(s.PolicyApplied), metric.WithAttributes(keyResult.String("applied")))
		o.ObserveInt64(reloads, int64(s.PolicyRejected), metric.WithAttributes(keyResult.String("rejected")))
		hash := s.PolicyHash
		if hash == "" {
			hash = "builtin"
		}
		o.ObserveInt64(policyInfo, 1, metric.WithAttributes(keySHA256.String(hash)))
		if !s.SVIDExpiry.IsZero() {
			o.ObserveFloat64(svid, time.Until(s.SVIDExpiry).Seconds())
		}
		o.ObserveInt64(denials, int64(s.AuthorizationDenied), metric.WithAttributes(dst, keyMode.String("enforce")))
		o.ObserveInt64(denials, int64(s.AuthorizationWouldDeny), metric.WithAttributes(dst, keyMode.String("dry_run")))
		for reason, n := range s.Rejected {
			o.ObserveInt64(rejections, int64(n), metric.WithAttributes(dst, keyReason.String(reason)))
		}
		o.ObserveInt64(serverActive, s.InboundInFlight, metric.WithAttributes(dst))
		for _, d := range s.Destinations {
			a := keyDestination.String(d.Service)
			o.ObserveInt64(endpoints, int64(d.Ready), metric.WithAttributeSet(attribute.NewSet(a, keyState.String("ready"))))
			o.ObserveInt64(endpoints, int64(d.NotReady), metric.WithAttributeSet(attribute.NewSet(a, keyState.String("not_ready"))))
			o.ObserveInt64(ejected, int64(d.Ejected), metric.WithAttributes(a))
			o.ObserveInt64(open, int64(d.BreakersOpen), metric.WithAttributes(a))
		}
		return nil
	}, members, dropPackets, dropEntries, repairs, health, queued, reloads, policyInfo, denials, rejections, serverActive, endpoints, ejected, open, svid)
}
