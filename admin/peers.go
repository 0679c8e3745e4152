package admin

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/weftmesh/weft/admin/stats"
)

// unreachableAdmin returns why this node must not ask addr, the admin
// address a peer advertises, for the peer's counts; "" when it may. A
// loopback or unspecified address reaches whichever host dials it, so it
// is the peer's only when the peer runs on this node's host, which their
// gossip addresses (host:port, "" when unknown) tell. Asked from another
// host, it reaches whatever listens there, this node's own endpoint
// included.
func unreachableAdmin(addr, peerGossip, selfGossip string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "" // the fetch reports the bad address
	}
	var where string
	switch ip := net.ParseIP(host); {
	case host == "localhost" || ip != nil && ip.IsLoopback():
		where = "loopback"
	case ip != nil && ip.IsUnspecified():
		where = "an unspecified address (" + host + ")"
	default:
		return ""
	}
	if sameHost(peerGossip, selfGossip) {
		return ""
	}
	peerHost, _, _ := net.SplitHostPort(peerGossip)
	if peerHost == "" {
		peerHost = "unknown"
	}
	return fmt.Sprintf("advertises %s: its admin endpoint listens on %s on its host %s, which this node cannot reach; "+
		"give it an admin.listen address other hosts reach (with admin.allow), or open the dashboard of a node on that host",
		addr, where, peerHost)
}

// sameHost reports whether two gossip addresses are on one host: the
// same IP, or both on loopback.
func sameHost(a, b string) bool {
	ha, _, errA := net.SplitHostPort(a)
	hb, _, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return false
	}
	ipa, ipb := net.ParseIP(ha), net.ParseIP(hb)
	if ipa == nil || ipb == nil {
		return ha == hb
	}
	return ipa.Equal(ipb) || ipa.IsLoopback() && ipb.IsLoopback()
}

// peerClient fetches peers' counts, over mutual TLS when tls gives a
// configuration for the peer's service.
type peerClient struct {
	tls   func(service string) *tls.Config
	mu    sync.Mutex
	plain *http.Transport
	byTLS map[string]*http.Transport // by service
}

func (p *peerClient) transport(service string) (*http.Transport, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var cfg *tls.Config
	if p.tls != nil {
		cfg = p.tls(service)
	}
	if cfg == nil {
		if p.plain == nil {
			p.plain = &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}
		}
		return p.plain, "http"
	}
	if p.byTLS == nil {
		p.byTLS = map[string]*http.Transport{}
	}
	t := p.byTLS[service]
	if t == nil {
		t = &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}
		p.byTLS[service] = t
	}
	return t, "https"
}

// fetch reads the counts of member node, an instance of service, from its
// admin address. A snapshot of another node is refused: the address
// reaches some other member (two members advertise one address), and
// its counts would be shown as service's.
func (p *peerClient) fetch(ctx context.Context, service, node, addr string) (*stats.Snapshot, error) {
	t, scheme := p.transport(service)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+"/weft/stats", nil)
	if err != nil {
		return nil, err
	}
	resp, err := t.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatsSize))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s: %.200s", addr, resp.Status, body)
	}
	var snap stats.Snapshot
	if err := json.Unmarshal(body, &snap); err != nil {
		return nil, fmt.Errorf("%s sent no stats snapshot: %w", addr, err)
	}
	if err := snap.Check(); err != nil {
		return nil, err
	}
	if snap.Node != node {
		return nil, fmt.Errorf("%s answered with the counts of node %q, not %s's: the address reaches another member, so they are left out "+
			"(two members advertise one admin address; give each its own)", addr, snap.Node, node)
	}
	snap.Service = service // as the catalog says, not as the peer claims
	return &snap, nil
}

func (p *peerClient) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.plain != nil {
		p.plain.CloseIdleConnections()
	}
	for _, t := range p.byTLS {
		t.CloseIdleConnections()
	}
}
