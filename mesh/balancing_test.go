package mesh_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

const roundRobinPolicy = `version: 1
mesh: {name: test}
services:
  echo: {loadBalancer: round_robin, timeout: 2s}
`

func TestRoundRobinSpreadsEvenly(t *testing.T) {
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, roundRobinPolicy)
	var c counter
	for i := range 3 {
		m.Serve(mesh.Config{Service: "echo"}, named(&c, fmt.Sprint("b", i)))
	}
	client := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, client, "echo", 3)

	hc := client.NewClient("echo")
	const total = 3000
	for range total {
		if _, err := get(hc, "http://echo/"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		got, want := c.get(fmt.Sprint("b", i)), total/3
		t.Logf("b%d: %d requests", i, got)
		if got < want*85/100 || got > want*115/100 {
			t.Errorf("b%d got %d requests, want %d ±15%%", i, got, want)
		}
	}
}

func TestUnknownServiceNamesIt(t *testing.T) {
	m := meshtest.New(t)
	client := m.Start(mesh.Config{Service: "client"})
	_, err := client.NewClient("inventory").Get("http://inventory/items")
	if !errors.Is(err, mesh.ErrNoEndpoint) {
		t.Fatalf("err = %v, want ErrNoEndpoint", err)
	}
	if !strings.Contains(err.Error(), `"inventory"`) {
		t.Errorf("error %q does not name the service", err)
	}
}

func TestJoiningEndpointGetsTrafficAndDrainingGetsNone(t *testing.T) {
	m := meshtest.New(t)
	var c counter
	m.Serve(mesh.Config{Service: "echo"}, named(&c, "old0"))
	m.Serve(mesh.Config{Service: "echo"}, named(&c, "old1"))
	client := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, client, "echo", 2)
	hc := client.NewClient("echo")

	var (
		stop     atomic.Bool
		failures atomic.Int64
		wg       sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if _, err := get(hc, "http://echo/"); err != nil {
				failures.Add(1)
				t.Errorf("request failed: %v", err)
			}
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()

	start := time.Now()
	joined := m.Serve(mesh.Config{Service: "echo", DrainDelay: 500 * time.Millisecond}, named(&c, "new"))
	meshtest.WaitFor(t, 2*time.Second, "traffic to the joined endpoint", func() bool { return c.get("new") > 0 })
	t.Logf("joined endpoint got its first request %v after it started", time.Since(start).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- joined.Shutdown(ctx) }()
	meshtest.WaitFor(t, 2*time.Second, "drain seen by the client", func() bool {
		return len(client.Endpoints("echo")) == 2
	})
	// The load is one request at a time: at most the one in flight when the
	// drain was seen may still arrive.
	seen := c.get("new")
	before := c.get("old0") + c.get("old1")
	meshtest.WaitFor(t, 5*time.Second, "100 more requests", func() bool { return c.get("old0")+c.get("old1") >= before+100 })
	if got := c.get("new"); got > seen+1 {
		t.Errorf("draining endpoint got %d requests after the drain was seen (had %d)", got-seen, seen)
	}
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if failures.Load() > 0 {
		t.Errorf("%d requests failed", failures.Load())
	}
}
