package breaker_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/breaker"
)

func Example() {
	// A clock the example moves by hand; production code passes nil.
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	set, err := breaker.New(breaker.Config{ConsecutiveFailures: 3, OpenFor: 30 * time.Second}, clock)
	if err != nil {
		fmt.Println(err)
		return
	}
	ep := &resilience.Endpoint{Addr: "127.0.0.1:8081"}
	set.Attach(ep.Addr, ep) // an open breaker takes ep out of picking

	send := func(success bool) {
		done, err := set.Allow(ep.Addr)
		if err != nil {
			fmt.Println("refused:", errors.Is(err, breaker.ErrOpen))
			return
		}
		done(success)
	}
	for range 3 {
		send(false)
	}
	fmt.Println(set.State(ep.Addr), "pickable:", ep.Available(now.UnixNano()))
	send(true)
	fmt.Println(set.CheckAll([]string{ep.Addr}))

	now = now.Add(30 * time.Second)
	fmt.Println(set.State(ep.Addr), "pickable:", ep.Available(now.UnixNano()))
	send(true) // the trial request succeeds
	fmt.Println(set.State(ep.Addr))
	// Output:
	// open pickable: false
	// refused: true
	// breaker: all 1 endpoints failing, circuits open; failing fast (next trial in 30s): check the service's health
	// half-open pickable: true
	// closed
}
