package mesh_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// chargeLoad sends Charge calls from workers paced at one call per 10 ms each,
// until stop is called, which returns how many were sent and the errors.
func chargeLoad(pc shoppb.PaymentsClient, workers int) (stop func() (sent int64, errs []error)) {
	var (
		halt   atomic.Bool
		n      atomic.Int64
		mu     sync.Mutex
		failed []error
		wg     sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for i := 0; !halt.Load(); i++ {
				<-tick.C
				n.Add(1)
				_, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{OrderId: fmt.Sprint(w, "-", i), AmountCents: 1})
				if err != nil {
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
				}
			}
		}()
	}
	return func() (int64, []error) {
		halt.Store(true)
		wg.Wait()
		return n.Load(), failed
	}
}

func TestGRPCNewBackendGetsTrafficWithinTwoSeconds(t *testing.T) {
	m := meshtest.New(t)
	var c counter
	for i := range 2 {
		serveGRPC(t, m, mesh.Config{Service: "payments"}, &payments{name: fmt.Sprint("old", i), calls: &c})
	}
	client := m.Start(mesh.Config{Service: "checkout"})
	waitGRPCEndpoints(t, client, "payments", 2)
	pc := dial(t, client, "payments")
	stop := chargeLoad(pc, 4)

	// The channel's long-lived connections must not pin the load to the
	// old backends: the new one gets connected and picked as soon as the
	// catalog lists it.
	meshtest.WaitFor(t, 5*time.Second, "load on the old backends", func() bool { return c.get("old0") > 0 && c.get("old1") > 0 })
	start := time.Now()
	serveGRPC(t, m, mesh.Config{Service: "payments"}, &payments{name: "new", calls: &c})
	meshtest.WaitFor(t, 10*time.Second, "a call on the new backend", func() bool { return c.get("new") > 0 })
	took := time.Since(start)
	sent, errs := stop()
	t.Logf("new backend got its first call %v after it started serving; %d calls, %d failed; per backend: %v", took.Round(time.Millisecond), sent, len(errs), c.snapshot())
	if took > 2*time.Second {
		t.Errorf("the new backend got traffic %v after it started; want within 2s", took)
	}
	for _, err := range errs {
		t.Errorf("call failed: %v", err)
	}
}

func TestGRPCRollingRestartUnderLoadLosesNothing(t *testing.T) {
	m := meshtest.New(t)
	var c counter
	var backends []*grpcBackend
	for i := range 3 {
		backends = append(backends, serveGRPC(t, m, mesh.Config{Service: "payments", DrainDelay: time.Second}, &payments{name: fmt.Sprint("gen0-", i), calls: &c}))
	}
	client := m.Start(mesh.Config{Service: "checkout"})
	waitGRPCEndpoints(t, client, "payments", 3)
	pc := dial(t, client, "payments")
	// Charge is not idempotent: a drained backend must let calls finish
	// and refuse new ones unprocessed, so that none fails and none runs
	// twice.
	stop := chargeLoad(pc, 4)
	start := time.Now()
	for i, b := range backends {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("shutdown %d: %v", i, err)
		}
		cancel()
		<-b.done
		serveGRPC(t, m, mesh.Config{Service: "payments", DrainDelay: time.Second}, &payments{name: fmt.Sprint("gen1-", i), calls: &c})
		waitGRPCEndpoints(t, client, "payments", 3)
	}
	meshtest.WaitFor(t, 5*time.Second, "traffic to every restarted backend", func() bool {
		return c.get("gen1-0") > 0 && c.get("gen1-1") > 0 && c.get("gen1-2") > 0
	})
	sent, errs := stop()
	elapsed := time.Since(start)
	var served int
	for _, v := range c.snapshot() {
		served += v
	}
	t.Logf("rolling restart: %d calls in %v (%.0f/s), %d failed, %d served; per backend: %v", sent, elapsed.Round(time.Millisecond), float64(sent)/elapsed.Seconds(), len(errs), served, c.snapshot())
	for i, err := range errs {
		if i < 10 {
			t.Errorf("call failed: %v", err)
		}
	}
	if len(errs) > 0 {
		t.Errorf("%d of %d calls failed during the rolling restart", len(errs), sent)
	}
	if int64(served) != sent {
		t.Errorf("%d calls sent, %d served: a charge was lost or run twice", sent, served)
	}
	if sent < 500 {
		t.Errorf("only %d calls were sent during the restart; want at least 500 for the test to mean anything", sent)
	}
}

func TestGRPCStreamFinishesAcrossDrain(t *testing.T) {
	m := meshtest.New(t)
	var c counter
	old := serveGRPC(t, m, mesh.Config{Service: "payments", DrainDelay: 300 * time.Millisecond}, &payments{name: "old", calls: &c})
	client := m.Start(mesh.Config{Service: "checkout"})
	waitGRPCEndpoints(t, client, "payments", 1)
	pc := dial(t, client, "payments")

	// A stream of 50 updates, 20 ms apart: it outlives the drain delay.
	w, err := pc.Watch(context.Background(), &shoppb.WatchRequest{PaymentId: "p1", Updates: 50})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := w.Recv(); err != nil || st.ServedBy != "old" {
		t.Fatalf("first update: %v %v", st, err)
	}
	serveGRPC(t, m, mesh.Config{Service: "payments"}, &payments{name: "new", calls: &c})
	waitGRPCEndpoints(t, client, "payments", 2)

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- old.Shutdown(ctx)
	}()
	// Once the drain is announced, new calls go to the other backend while
	// the stream goes on.
	waitGRPCEndpoints(t, client, "payments", 1)
	for i := range 5 {
		r, err := pc.Charge(context.Background(), &shoppb.ChargeRequest{})
		if err != nil || r.ServedBy != "new" {
			t.Fatalf("call %d during the drain: %v %v, want the new backend", i, r, err)
		}
	}
	got := 1
	for {
		st, err := w.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the stream broke after %d updates: %v", got, err)
		}
		got++
		if st.Seq != int32(got) {
			t.Fatalf("update %d has seq %d", got, st.Seq)
		}
	}
	if got != 50 {
		t.Fatalf("the stream ended after %d of 50 updates", got)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	<-old.done
	if err := old.err; err != nil {
		t.Fatalf("ServeGRPC returned %v after a graceful stop, want nil", err)
	}
}
