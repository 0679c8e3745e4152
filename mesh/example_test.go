package mesh_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/weftmesh/weft/mesh"
)

// Two services in one mesh, with no policy file: payments serves, checkout
// calls it by name.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)

	payments, err := mesh.Start(ctx, mesh.Config{Service: "payments", Logger: quiet, DrainDelay: 100 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	served := make(chan error, 1)
	go func() {
		served <- payments.ListenAndServe("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "charged by %s", r.Host)
		}))
	}()

	checkout, err := mesh.Start(ctx, mesh.Config{
		Service: "checkout",
		Join:    []string{payments.GossipAddr()},
		Logger:  quiet,
	})
	if err != nil {
		panic(err)
	}
	// Wait, at most until ctx ends, for gossip to tell checkout.
	for len(checkout.Endpoints("payments")) == 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}

	resp, err := checkout.NewClient("payments").Get("http://payments/charge")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	checkout.Shutdown(ctx)
	payments.Shutdown(ctx)
	fmt.Println(<-served)
	// Output:
	// charged by payments
	// http: Server closed
}
