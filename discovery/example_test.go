package discovery_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/weftmesh/weft/discovery"
)

// Two members on one host: the second joins through the first, and the
// first learns of the second's service from a subscription.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := []byte("example-key-0123") // 16 bytes: AES-128

	orders, err := discovery.Start(ctx, discovery.Config{
		MeshName: "example",
		Key:      key,
		BindAddr: "127.0.0.1:0",
		Local:    discovery.Instance{Service: "orders"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer orders.Leave(ctx)

	both := make(chan *discovery.View, 1)
	stop := orders.Subscribe(func(v *discovery.View) {
		if v.Has("billing") {
			select {
			case both <- v:
			default:
			}
		}
	})
	defer stop()

	billing, err := discovery.Start(ctx, discovery.Config{
		MeshName: "example",
		Key:      key,
		BindAddr: "127.0.0.1:0",
		Join:     []string{orders.Addr()},
		Local: discovery.Instance{
			Service:   "billing",
			Endpoints: []discovery.Endpoint{{Protocol: "http", Addr: "127.0.0.1:8081"}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer billing.Leave(ctx)

	select {
	case v := <-both:
		in := v.Instances("billing")[0]
		fmt.Println(v.Services(), in.State, in.Endpoints[0].Addr)
	case <-ctx.Done():
		fmt.Println("billing never showed up")
	}
	// Output: [billing orders] starting 127.0.0.1:8081
}
