package outlier_test

import (
	"fmt"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/outlier"
)

func Example() {
	// A clock the example moves by hand; production code passes nil.
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	d, err := outlier.New(outlier.Config{ConsecutiveErrors: 3, EjectFor: 30 * time.Second}, clock)
	if err != nil {
		fmt.Println(err)
		return
	}
	var eps []*resilience.Endpoint
	for _, addr := range []string{"127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083", "127.0.0.1:8084"} {
		ep := &resilience.Endpoint{Addr: addr}
		eps = append(eps, ep)
		d.Attach(addr, ep) // an ejection takes ep out of picking
	}

	// Every endpoint fails: at most half of them are ejected.
	for _, ep := range eps {
		for range 3 {
			d.Observe(ep.Addr, outlier.FromStatus(503))
		}
	}
	fmt.Println("ejected:", d.EjectedCount())
	fmt.Println("8081 pickable:", eps[0].Available(now.UnixNano()))

	now = now.Add(30 * time.Second)
	fmt.Println("after 30s, 8081 pickable:", eps[0].Available(now.UnixNano()))
	// Output:
	// ejected: 2
	// 8081 pickable: false
	// after 30s, 8081 pickable: true
}
