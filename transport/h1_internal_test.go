package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// h1Server is a real HTTP/1.1 server on loopback that counts the
// connections it accepted and the requests its handler got.
type h1Server struct {
	*httptest.Server
	conns    atomic.Int32
	requests atomic.Int32
	closed   atomic.Int32
}

func newH1Server(t *testing.T, secure bool, h http.HandlerFunc) *h1Server {
	t.Helper()
	s := &h1Server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.conns.Add(1)
		case http.StateClosed:
			s.closed.Add(1)
		}
	}
	if secure {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *h1Server) addr() string { return s.Listener.Addr().String() }

// countingFallback records the requests the h1 transport hands over.
type countingFallback struct {
	rt    http.RoundTripper
	count atomic.Int32
}

func (f *countingFallback) RoundTrip(req *http.Request) (*http.Response, error) {
	f.count.Add(1)
	return f.rt.RoundTrip(req)
}

func newTestH1(t *testing.T) (*h1Transport, *countingFallback) {
	t.Helper()
	base := newMeshTransport()
	fb := &countingFallback{rt: base}
	tr := newPlainH1(fb)
	t.Cleanup(tr.CloseIdleConnections)
	return tr, fb
}

func h1Do(t *testing.T, tr http.RoundTripper, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp, string(b)
}

// newGet returns a request without a body; url is one of the test's.
func newGet(method, url string) *http.Request {
	req, _ := http.NewRequest(method, url, nil)
	return req
}

func h1Get(t *testing.T, tr http.RoundTripper, url string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	return h1Do(t, tr, req)
}

func awaitTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestH1KeepsOneConnection(t *testing.T) {
	s := newH1Server(t, false, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok "+r.Method) })
	tr, fb := newTestH1(t)
	for i := range 20 {
		resp, body := h1Get(t, tr, s.URL+"/")
		if resp.StatusCode != 200 || body != "ok GET" {
			t.Fatalf("request %d: %d %q, want 200 \"ok GET\"", i, resp.StatusCode, body)
		}
	}
	// HEAD and 204 answers have no body: their connection is free at once.
	for _, m := range []string{http.MethodHead, http.MethodDelete} {
		req, _ := http.NewRequest(m, s.URL+"/", nil)
		h1Do(t, tr, req)
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("server accepted %d connections for 22 sequential requests, want 1", n)
	}
	if n := fb.count.Load(); n != 0 {
		t.Errorf("%d requests went to the fallback, want 0", n)
	}
}

func TestH1TLS(t *testing.T) {
	s := newH1Server(t, true, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secure") })
	cfg := s.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	cfg.ServerName = "example.com" // httptest's certificate
	// Mesh connections present an SVID; this server asks for none.
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }
	tr := newTLSH1(cfg, http.DefaultTransport)
	t.Cleanup(tr.CloseIdleConnections)
	for range 10 {
		resp, body := h1Get(t, tr, "https://"+s.addr()+"/")
		if body != "secure" || resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
			t.Fatalf("answer %q, TLS %+v: want \"secure\" over TLS 1.3", body, resp.TLS)
		}
	}
	// The check that an idle TLS connection is still open must not mistake
	// anything the server sent after the handshake for its closing.
	if n := s.conns.Load(); n != 1 {
		t.Errorf("server accepted %d TLS connections for 10 sequential requests, want 1", n)
	}
}

func TestH1FindsConnectionsTheServerClosed(t *testing.T) {
	s := newH1Server(t, false, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr, _ := newTestH1(t)
	h1Get(t, tr, s.URL+"/")
	s.CloseClientConnections()
	awaitTrue(t, "the client's idle connection sees the server's close", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		idle := tr.idle[s.addr()]
		return len(idle) == 1 && !idle[0].open()
	})
	// A POST may not be sent twice: it must not be sent on the closed
	// connection at all.
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader("order"))
	if resp, body := h1Do(t, tr, req); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("POST after the server closed the idle connection: %d %q", resp.StatusCode, body)
	}
	if n := s.requests.Load(); n != 2 {
		t.Errorf("handler got %d requests, want 2", n)
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("server accepted %d connections, want 2", n)
	}
}

// closingServer answers the first request on each connection and closes
// the connection when it reads the second, without answering: the race of
// a request sent as the server closes an idle connection.
type closingServer struct {
	l        net.Listener
	conns    atomic.Int32
	requests atomic.Int32
	wg       sync.WaitGroup
}

func newClosingServer(t *testing.T) *closingServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &closingServer{l: l}
	s.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			s.wg.Go(func() { s.serve(c) })
		}
	})
	t.Cleanup(func() { l.Close(); s.wg.Wait() })
	return s
}

func (s *closingServer) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	io.Copy(io.Discard, req.Body)
	s.requests.Add(1)
	io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	if req, err = http.ReadRequest(br); err == nil {
		io.Copy(io.Discard, req.Body)
		s.requests.Add(1)
	}
}

func TestH1SendsARepeatableRequestAgainWhenTheConnectionBreaks(t *testing.T) {
	s := newClosingServer(t)
	tr, _ := newTestH1(t)
	url := "http://" + s.l.Addr().String() + "/"
	h1Get(t, tr, url)
	if resp, body := h1Get(t, tr, url); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("GET on a connection closed as it was sent: %d %q, want it answered on a new one", resp.StatusCode, body)
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("server accepted %d connections, want 2", n)
	}
}

func TestH1DoesNotSendAPostAgain(t *testing.T) {
	s := newClosingServer(t)
	tr, _ := newTestH1(t)
	url := "http://" + s.l.Addr().String() + "/"
	h1Get(t, tr, url)
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("pay"))
	_, err := tr.RoundTrip(req)
	if !errors.Is(err, errNoAnswer) {
		t.Fatalf("POST on a connection closed after reading it: err = %v, want errNoAnswer", err)
	}
	if n := s.requests.Load(); n != 2 {
		t.Errorf("server read %d requests, want 2 (the POST once)", n)
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("server accepted %d connections, want 1: the POST must not be sent again", n)
	}
}

func TestH1DropsConnectionsItCannotReuse(t *testing.T) {
	big := strings.Repeat("x", 256<<10)
	s := newH1Server(t, false, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			io.WriteString(w, big)
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		default:
			io.WriteString(w, "ok")
		}
	})
	tr, _ := newTestH1(t)
	h1Get(t, tr, s.URL+"/")
	resp, err := tr.RoundTrip(newGet(http.MethodGet, s.URL+"/big"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // most of the answer unread: the connection goes
	h1Get(t, tr, s.URL+"/")
	if n := s.conns.Load(); n != 2 {
		t.Errorf("after a body closed early: %d connections, want 2", n)
	}
	if _, body := h1Get(t, tr, s.URL+"/close"); body != "bye" {
		t.Fatalf("body %q", body)
	}
	h1Get(t, tr, s.URL+"/")
	if n := s.conns.Load(); n != 3 {
		t.Errorf("after Connection: close: %d connections, want 3", n)
	}
	awaitTrue(t, "the server sees both dropped connections closed", func() bool { return s.closed.Load() == 2 })
}

func TestH1ContextEndsTheExchange(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	s := newH1Server(t, false, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		if r.URL.Path == "/partial" {
			io.WriteString(w, "part")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr, _ := newTestH1(t)

	// Cancelled while waiting for the answer.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/wait", nil)
	errc := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(req)
		errc <- err
	}()
	<-entered
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled while waiting: err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RoundTrip did not return within 10s of its context being cancelled")
	}

	// A deadline that passes while the body is being read.
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/partial", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "part" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reading past the deadline: %q, %v; want \"part\" and context.DeadlineExceeded", b, err)
	}
	tr.mu.Lock()
	idle := tr.nidle
	tr.mu.Unlock()
	if idle != 0 {
		t.Errorf("%d idle connections after two aborted exchanges, want 0", idle)
	}
}

func TestH1SkipsInformationalAnswers(t *testing.T) {
	s := newH1Server(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "made")
	})
	tr, _ := newTestH1(t)
	resp, body := h1Get(t, tr, s.URL+"/")
	if resp.StatusCode != http.StatusCreated || body != "made" {
		t.Fatalf("%d %q, want 201 \"made\" after 103 Early Hints", resp.StatusCode, body)
	}
	h1Get(t, tr, s.URL+"/")
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestH1HandsOverWhatItDoesNotSend(t *testing.T) {
	s := newH1Server(t, false, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	})
	tr, fb := newTestH1(t)
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"upgrade", func() *http.Request {
			r := newGet(http.MethodGet, s.URL+"/")
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "websocket")
			return r
		}},
		{"expect 100-continue", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPut, s.URL+"/", strings.NewReader("x"))
			r.Header.Set("Expect", "100-continue")
			return r
		}},
		{"streamed body", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, s.URL+"/", io.NopCloser(strings.NewReader("stream")))
			return r // ContentLength unknown
		}},
		{"large body", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(strings.Repeat("x", maxReplayBody+1)))
			return r
		}},
	} {
		before := fb.count.Load()
		h1Do(t, tr, tc.req())
		if fb.count.Load() != before+1 {
			t.Errorf("%s: not handed to the fallback", tc.name)
		}
	}
	// A header net/http refuses is refused by it, with its error.
	r := newGet(http.MethodGet, s.URL+"/")
	r.Header["Bad Name"] = []string{"v"}
	if _, err := tr.RoundTrip(r); err == nil || !strings.Contains(err.Error(), "invalid header field name") {
		t.Errorf("bad header name: err = %v, want net/http's invalid header field name", err)
	}
	// A small body of known length is sent directly.
	before := fb.count.Load()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader("small"))
	h1Do(t, tr, req)
	if fb.count.Load() != before {
		t.Error("a small body of known length went to the fallback")
	}
}

func TestH1CloseIdleConnections(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	releaseSlow := func() { once.Do(func() { close(release) }) }
	s := newH1Server(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok")
	})
	t.Cleanup(releaseSlow) // before the server closes, should a check fail
	tr, _ := newTestH1(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := tr.RoundTrip(newGet(http.MethodGet, s.URL+"/slow")) // busy
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	awaitTrue(t, "the slow request is in flight", func() bool { return s.requests.Load() == 1 })
	h1Get(t, tr, s.URL+"/") // a second connection, then idle
	tr.CloseIdleConnections()
	awaitTrue(t, "the idle connection closed", func() bool { return s.closed.Load() == 1 })
	releaseSlow()
	<-done
	// The busy one is closed when its answer has been read, not kept.
	awaitTrue(t, "the busy connection closed once its answer was read", func() bool { return s.closed.Load() == 2 })
	h1Get(t, tr, s.URL+"/")
	if n := s.conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

func TestH1ClosesExpiredIdleConnections(t *testing.T) {
	s := newH1Server(t, false, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr, _ := newTestH1(t)
	h1Get(t, tr, s.URL+"/")
	// Age the idle connection past the timeout, then run the sweep.
	tr.mu.Lock()
	for _, c := range tr.idle[s.addr()] {
		c.idleSince = c.idleSince.Add(-h1IdleTimeout)
	}
	tr.mu.Unlock()
	tr.closeExpired()
	awaitTrue(t, "the expired connection closed", func() bool { return s.closed.Load() == 1 })
	tr.mu.Lock()
	n, sweep := tr.nidle, tr.sweep
	tr.mu.Unlock()
	if n != 0 || sweep != nil {
		t.Errorf("after the sweep: %d idle, sweep scheduled %v; want 0 and none", n, sweep != nil)
	}
}

// A request that gives up while its connection is being made says so,
// rather than reporting a connection failure that would mark the endpoint
// down.
func TestH1GivingUpWhileConnectingIsNotAConnectionFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	held.Go(func() {
		c, err := l.Accept() // accepted, and never answered: the handshake waits
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
		c.Close()
	})
	t.Cleanup(func() { l.Close(); held.Wait() })
	cfg := &tls.Config{
		ServerName:           "example.com",
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil },
	}
	tr := newTLSH1(cfg, http.DefaultTransport)
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+l.Addr().String()+"/", nil)
	_, err = tr.RoundTrip(req)
	if !errors.Is(err, context.DeadlineExceeded) || isConnectError(err) {
		t.Fatalf("err = %v (a connection failure: %v), want the context's deadline and no connection failure", err, isConnectError(err))
	}
}
