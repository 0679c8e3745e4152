package rpc_test

import (
	"context"
	"crypto/tls"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/internal/inbound"
	"github.com/weftmesh/weft/resilience/limit"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/security/authz"
	"github.com/weftmesh/weft/security/devca"
	"github.com/weftmesh/weft/transport/rpc"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

// mesh is a development CA and the identities it gives services.
type mesh struct {
	t    *testing.T
	ca   *devca.CA
	tmpl security.Template
}

func newMesh(t *testing.T) *mesh {
	ca, err := devca.New(td)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := security.ParseTemplate("", td)
	if err != nil {
		t.Fatal(err)
	}
	return &mesh{t: t, ca: ca, tmpl: tmpl}
}

// source returns the SVID source of service, closed at cleanup.
func (m *mesh) source(service string) security.Source {
	id, err := m.tmpl.ID(service)
	if err != nil {
		m.t.Fatal(err)
	}
	src, err := devca.NewSourceFromCA(m.ca, id, time.Hour, nil)
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() { src.Close() })
	return src
}

// clientTLS returns the ClientTLS hook of a caller whose identity is src.
func (m *mesh) clientTLS(src security.Source) func(string) *tls.Config {
	configs := make(map[string]*tls.Config)
	return func(service string) *tls.Config {
		if c, ok := configs[service]; ok {
			return c
		}
		id, _ := m.tmpl.ID(service)
		c := security.ClientTLS(src, id)
		configs[service] = c
		return c
	}
}

// inbound returns the inbound middleware of a service with rules.
func (m *mesh) inbound(rules []authz.Rule, limits *limit.Config) *inbound.Gate {
	in := &inbound.Gate{}
	az, err := authz.Compile(authz.Config{Rules: rules}, td, m.tmpl.ID)
	if err != nil {
		m.t.Fatal(err)
	}
	in.SetSecurity(inbound.Security{Authorization: az, CallerName: m.tmpl.Service})
	if err := in.SetLimits(limits); err != nil {
		m.t.Fatal(err)
	}
	return in
}

// peerRecorder is a payments server that records the caller identity its
// handler sees.
type peerRecorder struct {
	payments
	peer    chan spiffeid.ID
	noRetry chan bool
}

func (p *peerRecorder) Charge(ctx context.Context, req *shoppb.ChargeRequest) (*shoppb.Receipt, error) {
	id, _ := security.PeerFromContext(ctx)
	p.peer <- id
	p.noRetry <- retry.NoRetry(ctx)
	return p.payments.Charge(ctx, req)
}

func TestMutualTLSAuthorizationByMethod(t *testing.T) {
	m := newMesh(t)
	server := &peerRecorder{peer: make(chan spiffeid.ID, 10), noRetry: make(chan bool, 10)}
	in := m.inbound([]authz.Rule{
		{From: []string{"checkout"}, Paths: []string{"/shop.Payments/*"}},
		{From: []string{"reports"}, Paths: []string{"/shop.Payments/Quote"}},
	}, nil)
	addr := serve(t, rpc.Config{Service: "payments", ServerTLS: security.ServerTLS(m.source("payments")), Inbound: in}, server)
	cat := newCatalog()
	cat.put(instance("n1", "payments", addr, ""))

	checkout := dial(t, dialer(t, cat, clientConfig{Service: "checkout", ClientTLS: m.clientTLS(m.source("checkout"))}, routing(engine.DestinationConfig{}, nil)), "payments")
	if _, err := checkout.Charge(context.Background(), &shoppb.ChargeRequest{}); err != nil {
		t.Fatalf("checkout's charge: %v", err)
	}
	if id := <-server.peer; id.String() != "spiffe://example.org/svc/checkout" {
		t.Errorf("the handler saw the caller as %q", id)
	}
	if !<-server.noRetry {
		t.Error("the caller retries (attempts 2), but the handler's context is not marked")
	}

	reports := dial(t, dialer(t, cat, clientConfig{Service: "reports", ClientTLS: m.clientTLS(m.source("reports"))}, routing(engine.DestinationConfig{}, nil)), "payments")
	if _, err := reports.Quote(context.Background(), &shoppb.QuoteRequest{}); err != nil {
		t.Fatalf("reports' quote (allowed): %v", err)
	}
	_, err := reports.Charge(context.Background(), &shoppb.ChargeRequest{})
	if code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "path not allowed") {
		t.Fatalf("reports' charge (denied): %v, want PermissionDenied", err)
	}
	if denied, _ := in.AuthorizationStats(); denied != 1 {
		t.Errorf("%d denials counted, want 1", denied)
	}
	if got := server.charges.Load(); got != 1 {
		t.Errorf("the handler ran %d charges, want only checkout's", got)
	}
}

func TestWrongServerIdentityIsNeverUsed(t *testing.T) {
	m := newMesh(t)
	// An instance listed as payments that proves to be orders: a stale or
	// forged catalog entry.
	impostor := &payments{name: "orders"}
	cat := newCatalog()
	cat.put(instance("n1", "payments", serve(t, rpc.Config{Service: "orders", ServerTLS: security.ServerTLS(m.source("orders"))}, impostor), ""))
	pc := dial(t, dialer(t, cat, clientConfig{Service: "checkout", ClientTLS: m.clientTLS(m.source("checkout"))}, routing(engine.DestinationConfig{Timeout: time.Second}, nil)), "payments")
	_, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{})
	if code(err) != codes.Unavailable && code(err) != codes.DeadlineExceeded {
		t.Fatalf("charge to an impostor: %v", err)
	}
	if impostor.charges.Load() != 0 {
		t.Error("a call reached a server that is not the service dialled")
	}
	// A genuine instance joins: calls go there, never to the impostor.
	genuine := &payments{name: "payments"}
	cat.put(instance("n2", "payments", serve(t, rpc.Config{Service: "payments", ServerTLS: security.ServerTLS(m.source("payments"))}, genuine), ""))
	for i := range 10 {
		r, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{})
		if err != nil || r.ServedBy != "payments" {
			t.Fatalf("charge %d: %v %v", i, r, err)
		}
	}
	if impostor.charges.Load() != 0 {
		t.Error("a call reached the impostor")
	}
}

func TestStrictRefusesPlaintextPermissiveAcceptsBoth(t *testing.T) {
	m := newMesh(t)
	srcServer := m.source("payments")
	var mode atomic.Value
	mode.Store(security.Strict)
	p := &peerRecorder{peer: make(chan spiffeid.ID, 10), noRetry: make(chan bool, 10)}
	addr := serve(t, rpc.Config{Service: "payments", ServerTLS: security.ServerTLS(srcServer), Mode: func() security.Mode { return mode.Load().(security.Mode) }}, p)

	plain, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := shoppb.NewPaymentsClient(plain).Charge(ctx, &shoppb.ChargeRequest{}); code(err) != codes.Unavailable {
		t.Fatalf("plaintext charge to a strict server: %v, want Unavailable", err)
	}
	if p.charges.Load() != 0 {
		t.Fatal("a plaintext call reached a strict server's handler")
	}

	mode.Store(security.Permissive)
	plain2, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain2.Close()
	if _, err := shoppb.NewPaymentsClient(plain2).Charge(context.Background(), &shoppb.ChargeRequest{}); err != nil {
		t.Fatalf("plaintext charge to a permissive server: %v", err)
	}
	if id := <-p.peer; !id.IsZero() {
		t.Errorf("a plaintext caller has identity %s", id)
	}
	<-p.noRetry
	cat := newCatalog()
	cat.put(instance("n1", "payments", addr, ""))
	pc := dial(t, dialer(t, cat, clientConfig{Service: "checkout", ClientTLS: m.clientTLS(m.source("checkout"))}, routing(engine.DestinationConfig{}, nil)), "payments")
	if _, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{}); err != nil {
		t.Fatalf("mTLS charge to a permissive server: %v", err)
	}
	if id := <-p.peer; id.String() != "spiffe://example.org/svc/checkout" {
		t.Errorf("an mTLS caller of a permissive server was seen as %q", id)
	}
}

func TestLimitsUseTheirCodes(t *testing.T) {
	in := &inbound.Gate{}
	if err := in.SetLimits(&limit.Config{RateLimit: &limit.RateLimit{PerCaller: &limit.Bucket{RPS: 0.001, Burst: 2}}}); err != nil {
		t.Fatal(err)
	}
	p := &payments{name: "b0"}
	cat := newCatalog()
	cat.put(instance("n1", "payments", serve(t, rpc.Config{Service: "payments", Inbound: in}, p), ""))
	pc := dial(t, dialer(t, cat, clientConfig{Service: "checkout"}, routing(engine.DestinationConfig{}, nil)), "payments")
	for i := range 2 {
		if _, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{}); err != nil {
			t.Fatalf("charge %d within the burst: %v", i, err)
		}
	}
	var trailer metadata.MD
	_, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{}, grpc.Trailer(&trailer))
	if code(err) != codes.ResourceExhausted {
		t.Fatalf("charge over the rate limit: %v, want ResourceExhausted", err)
	}
	if ra := trailer.Get("retry-after"); len(ra) != 1 || ra[0] == "" || ra[0] == "0" {
		t.Errorf("retry-after trailer %q", ra)
	}
	if s, _ := in.LimitStats(); s.Rejected[limit.CallerRate] != 1 {
		t.Errorf("rejections counted: %v", s.Rejected)
	}
	// Another caller has its own bucket: the limit is per caller, and a
	// Weft client names itself in weft-source.
	other := dial(t, dialer(t, cat, clientConfig{Service: "reports"}, routing(engine.DestinationConfig{}, nil)), "payments")
	if _, err := other.Charge(context.Background(), &shoppb.ChargeRequest{}); err != nil {
		t.Fatalf("another caller's charge: %v", err)
	}

	in2 := &inbound.Gate{}
	if err := in2.SetLimits(&limit.Config{MaxConcurrent: 1}); err != nil {
		t.Fatal(err)
	}
	slow := &payments{name: "slow", delay: 300 * time.Millisecond}
	cat2 := newCatalog()
	cat2.put(instance("n1", "payments", serve(t, rpc.Config{Service: "payments", Inbound: in2}, slow), ""))
	pc2 := dial(t, dialer(t, cat2, clientConfig{Service: "checkout"}, routing(engine.DestinationConfig{}, nil)), "payments")
	first := make(chan error, 1)
	go func() {
		_, err := pc2.Charge(context.Background(), &shoppb.ChargeRequest{})
		first <- err
	}()
	waitFor(t, 5*time.Second, "the first call in flight", func() bool { return in2.InFlight() == 1 })
	if _, err := pc2.Charge(context.Background(), &shoppb.ChargeRequest{}); code(err) != codes.Unavailable {
		t.Fatalf("charge over the concurrency limit: %v, want Unavailable", err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

func TestWeftTimeoutMetadataBecomesTheDeadline(t *testing.T) {
	p := &payments{name: "b0"}
	addr := serve(t, rpc.Config{Service: "payments"}, p)
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	// A gateway that turns HTTP headers into metadata forwards the
	// caller's remaining time.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "weft-timeout", "250")
	if _, err := shoppb.NewPaymentsClient(cc).Charge(ctx, &shoppb.ChargeRequest{}); err != nil {
		t.Fatal(err)
	}
	if left := time.Duration(p.deadline.Load()); left <= 0 || left > 250*time.Millisecond {
		t.Errorf("the handler had %v left, want at most 250ms", left)
	}
}
