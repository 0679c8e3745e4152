package mesh_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

func TestDefaultNode(t *testing.T) {
	hc := mesh.NewClient("echo")
	h := mesh.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }))

	if _, err := hc.Get("http://echo/"); !errors.Is(err, mesh.ErrNotStarted) {
		t.Fatalf("before Start: err = %v, want ErrNotStarted", err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("Wrap before Start answered %d, want 503", rec.Code)
	}

	m := meshtest.New(t)
	var c counter
	m.Serve(mesh.Config{Service: "echo"}, named(&c, "e"))
	meshtest.WaitFor(t, 5*time.Second, "endpoint", func() bool {
		resp, err := hc.Get("http://echo/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "hi" {
		t.Fatalf("Wrap after Start answered %d %q", rec.Code, rec.Body)
	}
}

func TestShutdownIsGracefulAndIdempotent(t *testing.T) {
	m := meshtest.New(t)
	release := make(chan struct{})
	started := make(chan struct{})
	b := m.Serve(mesh.Config{Service: "slow", DrainDelay: 100 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	}))
	client := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, client, "slow", 1)

	got := make(chan error, 1)
	go func() {
		body, err := get(client.NewClient("slow"), "http://slow/")
		if err == nil && body != "done" {
			err = errors.New("body " + body)
		}
		got <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- b.Shutdown(ctx) }()
	go func() { errs <- b.Shutdown(ctx) }()
	meshtest.WaitFor(t, 5*time.Second, "drain seen", func() bool { return len(client.Endpoints("slow")) == 0 })
	close(release) // the request in flight finishes during the drain
	if err := <-got; err != nil {
		t.Errorf("request in flight during shutdown: %v", err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}
	if err := b.Wait(); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
	}
	if err := b.Shutdown(ctx); err != nil {
		t.Errorf("third Shutdown: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close after Shutdown: %v", err)
	}
}

func TestListenAndServePublishesItsPort(t *testing.T) {
	m := meshtest.New(t)
	n := m.Start(mesh.Config{Service: "web"})
	done := make(chan error, 1)
	go func() {
		done <- n.ListenAndServe("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "web") }))
	}()
	meshtest.WaitEndpoints(t, n, "web", 1)
	addr := n.Endpoints("web")[0]
	if _, port, _ := net.SplitHostPort(addr); port == "0" {
		t.Fatalf("published port 0")
	}
	if body, err := get(n.NewClient("web"), "http://web/"); err != nil || body != "web" {
		t.Fatalf("self call: %q, %v", body, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("ListenAndServe returned %v, want http.ErrServerClosed", err)
	}
}

func TestMalformedGossipIsDroppedAndCounted(t *testing.T) {
	m := meshtest.New(t)
	var c counter
	m.Serve(mesh.Config{Service: "echo"}, named(&c, "e"))
	n := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, n, "echo", 1)

	conn, err := net.Dial("udp", n.GossipAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	junk := make([]byte, 300)
	for range 20 {
		rand.Read(junk)
		conn.Write(junk)
	}
	tcp, err := net.Dial("tcp", n.GossipAddr())
	if err != nil {
		t.Fatal(err)
	}
	tcp.Write(junk)
	tcp.Close()
	meshtest.WaitFor(t, 5*time.Second, "dropped packets counted", func() bool {
		return n.Status().Gossip.DroppedPackets >= 20
	})
	// The node still works: a member that joins now is seen.
	m.Serve(mesh.Config{Service: "echo"}, named(&c, "f"))
	meshtest.WaitEndpoints(t, n, "echo", 2)
}

func TestStartFailsNamingSeeds(t *testing.T) {
	l, err := net.ListenPacket("udp", "127.0.0.1:0") // a port nobody gossips on
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err = mesh.Start(ctx, mesh.Config{Service: "lonely", Join: []string{l.LocalAddr().String()}, Logger: meshtest.New(t).Logger})
	if err == nil {
		t.Fatal("Start succeeded with no live seed")
	}
	if !strings.Contains(err.Error(), l.LocalAddr().String()) {
		t.Errorf("error does not name the seed: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	t.Setenv("WEFT_SERVICE", "")
	for _, cfg := range []mesh.Config{{}, {Service: "Bad_Name"}} {
		if _, err := mesh.Start(ctx, cfg); err == nil {
			t.Errorf("Start(%+v) succeeded", cfg)
		}
	}
}
