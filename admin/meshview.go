package admin

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/weftmesh/weft/admin/stats"
	"github.com/weftmesh/weft/discovery"
)

// Bounds of fetching the peers' counts for one mesh view.
const (
	peerTimeout     = 2 * time.Second
	peerConcurrency = 16
	maxStatsSize    = 4 << 20
)

// MeshView is the whole mesh as one node sees it, served at /weft/mesh:
// the catalog's services with their health and golden signals, and the
// edges between them, from the counts of every member that could be read.
type MeshView struct {
	Time    time.Time `json:"time"`
	Node    string    `json:"node"` // the node that answered
	Service string    `json:"service"`
	// Services lists every service in the catalog, and callers that are
	// not in it (stats.ExternalCaller).
	Services []ServiceView `json:"services"`
	Edges    []stats.Edge  `json:"edges"`
	// BucketSeconds is the width of each point of the services' charts.
	BucketSeconds int `json:"bucketSeconds"`
	// Peers lists the members that advertise an admin endpoint and
	// whether their counts could be read.
	Peers []PeerResult `json:"peers"`
}

// ServiceView is one service of the graph.
type ServiceView struct {
	Service string `json:"service"`
	// Instances counts the catalog entries by state: ready, starting,
	// draining; Clients the members that serve nothing (callers only).
	Instances int            `json:"instances"`
	States    map[string]int `json:"states,omitempty"`
	Clients   int            `json:"clients,omitempty"`
	// Health is "healthy", "degraded" (some instances not ready, or
	// more than 1% of requests failed in the last minute), "down" (no
	// ready instance, or more than 10% failed), "client" (only callers),
	// or "external".
	Health string `json:"health"`
	// Served is the service's requests served, over its instances; nil
	// when it served none in the window.
	Served *stats.Service `json:"served,omitempty"`
}

// PeerResult says whether a member's counts could be read.
type PeerResult struct {
	Node    string `json:"node"`
	Service string `json:"service"`
	Addr    string `json:"addr"`
	// Error says why the member's counts are not in the view: it could
	// not be reached or refused, its address is loopback on another host,
	// or the address answered with another node's counts.
	Error string `json:"error,omitempty"`
}

func (s *Server) serveMesh(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.meshView(r.Context()))
}

// meshView asks every member that advertises an admin endpoint for its
// counts, concurrently and within peerTimeout, and merges them with the
// node's own. A member whose admin address is loopback on another host
// is not asked, and counts that another node sent are not merged: each
// is reported as the member's error instead.
func (s *Server) meshView(ctx context.Context) MeshView {
	now := time.Now()
	instances := s.cfg.Node.Instances()
	v := MeshView{Time: now, Node: s.cfg.NodeName, BucketSeconds: stats.BucketSeconds}
	var snaps []stats.Snapshot
	if s.cfg.Stats != nil {
		snaps = append(snaps, s.cfg.Stats.Snapshot())
	}
	gossip := map[string]string{} // member name → gossip address
	for _, m := range s.cfg.Node.Members() {
		gossip[m.Name] = m.Addr
	}
	var peers []*discovery.Instance
	for _, in := range instances {
		if in.Node == s.cfg.NodeName {
			v.Service = in.Service
			continue
		}
		if _, ok := in.EndpointFor(Protocol); ok {
			peers = append(peers, in)
		}
	}
	results := make([]PeerResult, len(peers))
	fetched := make([]*stats.Snapshot, len(peers))
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, peerConcurrency)
	for i, in := range peers {
		ep, _ := in.EndpointFor(Protocol)
		results[i] = PeerResult{Node: in.Node, Service: in.Service, Addr: ep.Addr}
		if why := unreachableAdmin(ep.Addr, gossip[in.Node], gossip[s.cfg.NodeName]); why != "" {
			results[i].Error = why
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			snap, err := s.peers.fetch(ctx, in.Service, in.Node, ep.Addr)
			if err != nil {
				results[i].Error = err.Error()
				return
			}
			fetched[i] = snap
		})
	}
	wg.Wait()
	for _, snap := range fetched {
		if snap != nil {
			snaps = append(snaps, *snap)
		}
	}
	v.Peers = results
	merged := stats.Merge(now, snaps)
	v.Edges = merged.Edges
	v.Services = services(instances, merged)
	return v
}

// services builds the graph's nodes from the catalog and the merged
// counts.
func services(instances []*discovery.Instance, merged stats.View) []ServiceView {
	byName := map[string]*ServiceView{}
	get := func(name string) *ServiceView {
		sv := byName[name]
		if sv == nil {
			sv = &ServiceView{Service: name, States: map[string]int{}}
			byName[name] = sv
		}
		return sv
	}
	for _, in := range instances {
		sv := get(in.Service)
		serves := slices.ContainsFunc(in.Endpoints, func(e discovery.Endpoint) bool { return e.Protocol != Protocol })
		if !serves && in.State != discovery.StateDraining {
			sv.Clients++
			continue
		}
		sv.Instances++
		sv.States[in.State.String()]++
	}
	for i := range merged.Services {
		get(merged.Services[i].Service).Served = &merged.Services[i]
	}
	for _, e := range merged.Edges {
		for _, name := range []string{e.Source, e.Destination} {
			if _, ok := byName[name]; !ok {
				get(name).Health = "external"
			}
		}
	}
	out := make([]ServiceView, 0, len(byName))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		sv := byName[name]
		if sv.Health == "" {
			sv.Health = health(sv)
		}
		out = append(out, *sv)
	}
	return out
}

func health(sv *ServiceView) string {
	ready := sv.States["ready"]
	switch {
	case sv.Instances == 0 && sv.Clients > 0:
		return "client"
	case ready == 0:
		return "down"
	}
	rate := 1.0
	if sv.Served != nil {
		rate = sv.Served.SuccessRate
	}
	switch {
	case rate < 0.9:
		return "down"
	case rate < 0.99 || ready < sv.Instances:
		return "degraded"
	}
	return "healthy"
}
