package mesh_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

func TestAbruptFailureIsRetriedAndRemoved(t *testing.T) {
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, roundRobinPolicy)
	var c counter
	var backends []*meshtest.Backend
	for i := range 3 {
		backends = append(backends, m.Serve(mesh.Config{Service: "echo"}, named(&c, fmt.Sprint("b", i))))
	}
	client := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, client, "echo", 3)
	hc := client.NewClient("echo")

	dead := backends[0]
	if err := dead.Close(); err != nil {
		t.Fatal(err)
	}
	// The client has not heard of the failure yet: every request still
	// succeeds, those picked for the dead endpoint being retried elsewhere.
	for i := range 30 {
		if _, err := get(hc, "http://echo/"); err != nil {
			t.Fatalf("request %d after the crash failed: %v", i, err)
		}
	}
	// The refused endpoint is taken out of picking at once, then gossip's
	// failure detection removes it from the catalog.
	start := time.Now()
	meshtest.WaitEndpoints(t, client, "echo", 2)
	t.Logf("crashed endpoint removed from the catalog %v after the first refused request", time.Since(start).Round(time.Millisecond))
}

func TestRollingRestartUnderLoadLosesNothing(t *testing.T) {
	m := meshtest.New(t)
	var c counter
	var backends []*meshtest.Backend
	for i := range 3 {
		backends = append(backends, m.Serve(mesh.Config{Service: "echo", DrainDelay: time.Second}, named(&c, fmt.Sprint("gen0-", i))))
	}
	client := m.Start(mesh.Config{Service: "client"})
	meshtest.WaitEndpoints(t, client, "echo", 3)
	hc := client.NewClient("echo")

	// 4 workers, each paced at one request per 10 ms: 400 requests per
	// second offered, whatever the machine's speed.
	var (
		stop          atomic.Bool
		sent, failed  atomic.Int64
		wg            sync.WaitGroup
		firstFailures = make(chan error, 10)
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for !stop.Load() {
				<-tick.C
				sent.Add(1)
				if _, err := get(hc, "http://echo/"); err != nil {
					failed.Add(1)
					select {
					case firstFailures <- err:
					default:
					}
				}
			}
		}()
	}
	start := time.Now()
	for i, b := range backends {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("shutdown %d: %v", i, err)
		}
		cancel()
		b.Wait()
		m.Serve(mesh.Config{Service: "echo", DrainDelay: time.Second}, named(&c, fmt.Sprint("gen1-", i)))
		meshtest.WaitEndpoints(t, client, "echo", 3)
	}
	// Keep the load on until the last restarted backend has had traffic.
	meshtest.WaitFor(t, 5*time.Second, "traffic to every restarted backend", func() bool {
		return c.get("gen1-0") > 0 && c.get("gen1-1") > 0 && c.get("gen1-2") > 0
	})
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	close(firstFailures)
	for err := range firstFailures {
		t.Errorf("request failed: %v", err)
	}
	rate := float64(sent.Load()) / elapsed.Seconds()
	t.Logf("rolling restart: %d requests in %v (%.0f/s), %d failed; per backend: %v", sent.Load(), elapsed.Round(time.Millisecond), rate, failed.Load(), c.snapshot())
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed during the rolling restart", failed.Load(), sent.Load())
	}
	// The restart must have happened under real load; how fast this
	// machine is does not matter, how many requests crossed it does.
	if sent.Load() < 500 {
		t.Errorf("only %d requests were sent during the restart; want at least 500 for the test to mean anything", sent.Load())
	}
	for i := range 3 {
		if c.get(fmt.Sprint("gen1-", i)) == 0 {
			t.Errorf("restarted backend %d got no traffic", i)
		}
	}
}
