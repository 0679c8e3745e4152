package rpc_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/internal/inbound"
	"github.com/weftmesh/weft/transport/observe"
	"github.com/weftmesh/weft/transport/rpc"
)

// catalog is a Catalog whose views the test sets; subscribers hear of
// each new view at once, on the test's goroutine.
type catalog struct {
	mu        sync.Mutex
	version   uint64
	instances map[string]*discovery.Instance // by node
	view      *discovery.View
	subs      map[int]func(*discovery.View)
	next      int
}

func newCatalog() *catalog {
	return &catalog{instances: make(map[string]*discovery.Instance), subs: make(map[int]func(*discovery.View)), view: discovery.NewView(0)}
}

func (c *catalog) View() *discovery.View {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.view
}

func (c *catalog) Subscribe(fn func(*discovery.View)) func() {
	c.mu.Lock()
	id := c.next
	c.next++
	c.subs[id] = fn
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.subs, id)
		c.mu.Unlock()
	}
}

// put adds or replaces the instance of in.Node and publishes a new view.
func (c *catalog) put(in *discovery.Instance) {
	c.mu.Lock()
	c.instances[in.Node] = in
	c.publishLocked()
}

// remove drops node's instance and publishes a new view.
func (c *catalog) remove(node string) {
	c.mu.Lock()
	delete(c.instances, node)
	c.publishLocked()
}

func (c *catalog) publishLocked() {
	c.version++
	var all []*discovery.Instance
	for _, in := range c.instances {
		all = append(all, in)
	}
	c.view = discovery.NewView(c.version, all...)
	v := c.view
	var subs []func(*discovery.View)
	for _, fn := range c.subs {
		subs = append(subs, fn)
	}
	c.mu.Unlock()
	for _, fn := range subs {
		fn(v)
	}
}

// instance is a ready instance of service serving gRPC at addr.
func instance(node, service, addr, version string) *discovery.Instance {
	return &discovery.Instance{
		Node: node, Service: service, Version: version, Weight: 1, State: discovery.StateReady,
		Endpoints: []discovery.Endpoint{{Protocol: "grpc", Addr: addr}},
	}
}

// payments is a test implementation of shop.Payments.
type payments struct {
	shoppb.UnimplementedPaymentsServer
	name    string
	charges atomic.Int64
	quotes  atomic.Int64
	watches atomic.Int64
	delay   time.Duration
	fail    error // returned by Charge and Quote after counting them
	// deadline records the time left on the last Charge's context.
	deadline atomic.Int64
}

func (p *payments) Charge(ctx context.Context, req *shoppb.ChargeRequest) (*shoppb.Receipt, error) {
	p.charges.Add(1)
	if d, ok := ctx.Deadline(); ok {
		p.deadline.Store(int64(time.Until(d)))
	}
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	if p.fail != nil {
		return nil, p.fail
	}
	return &shoppb.Receipt{OrderId: req.OrderId, ServedBy: p.name}, nil
}

func (p *payments) Quote(ctx context.Context, req *shoppb.QuoteRequest) (*shoppb.QuoteReply, error) {
	p.quotes.Add(1)
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	if p.fail != nil {
		return nil, p.fail
	}
	return &shoppb.QuoteReply{AmountCents: 100, ServedBy: p.name}, nil
}

func (p *payments) Watch(req *shoppb.WatchRequest, stream grpc.ServerStreamingServer[shoppb.PaymentStatus]) error {
	p.watches.Add(1)
	if p.fail != nil {
		return p.fail
	}
	for i := range req.Updates {
		if err := stream.Send(&shoppb.PaymentStatus{Seq: i + 1, ServedBy: p.name}); err != nil {
			return err
		}
	}
	return nil
}

func (p *payments) wait(ctx context.Context) error {
	if p.delay == 0 {
		return nil
	}
	t := time.NewTimer(p.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// serve serves impl on a free loopback port with the mesh's server
// options for cfg, until the test ends, and returns the address.
func serve(t *testing.T, cfg rpc.Config, impl shoppb.PaymentsServer) string {
	t.Helper()
	if cfg.Inbound == nil {
		cfg.Inbound = &inbound.Gate{}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(rpc.ServerOptions(cfg)...)
	shoppb.RegisterPaymentsServer(s, impl)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return l.Addr().String()
}

// clientConfig describes the calling node of a test's dialer.
type clientConfig struct {
	Service   string
	ClientTLS func(service string) *tls.Config
	Observer  func() observe.CallObserver
}

// dialer returns a dialer over a client engine that follows cat, with
// routing rt, closed at cleanup.
func dialer(t *testing.T, cat *catalog, cfg clientConfig, rt engine.Routing) *rpc.Dialer {
	t.Helper()
	e := engine.New(engine.Config{Source: cfg.Service, TLS: cfg.ClientTLS})
	if cfg.Observer != nil {
		e.SetObserver(cfg.Observer())
	}
	if err := e.UpdateRouting(rt); err != nil {
		t.Fatal(err)
	}
	e.UpdateCatalog(cat.View())
	t.Cleanup(cat.Subscribe(e.UpdateCatalog))
	d := rpc.NewDialer(e)
	t.Cleanup(d.Close)
	t.Cleanup(e.Close)
	return d
}

// dial returns a payments client for service, closed at cleanup.
func dial(t *testing.T, d *rpc.Dialer, service string) shoppb.PaymentsClient {
	t.Helper()
	cc, err := d.Dial(service)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return shoppb.NewPaymentsClient(cc)
}

// refusingServer speaks just enough HTTP/2 to refuse every stream with
// REFUSED_STREAM, as a server does that has not processed a request. It
// returns its address and the count of streams refused.
func refusingServer(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		refused atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex
		conns   []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				refuseStreams(c, &refused)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String(), &refused
}

func refuseStreams(c net.Conn, refused *atomic.Int64) {
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil {
		return
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		return
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		case *http2.HeadersFrame:
			if f.StreamEnded() {
				refused.Add(1)
				fr.WriteRSTStream(f.StreamID, http2.ErrCodeRefusedStream)
			}
		case *http2.DataFrame:
			// Refused once the request is in, as a server that stops
			// taking streams does, without the client racing its own
			// write against the reset.
			if f.StreamEnded() {
				refused.Add(1)
				fr.WriteRSTStream(f.StreamID, http2.ErrCodeRefusedStream)
			}
		}
	}
}

// code returns err's gRPC code.
func code(err error) codes.Code { return status.Code(err) }

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var errTest = errors.New("test")
