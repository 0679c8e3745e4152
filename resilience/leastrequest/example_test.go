package leastrequest_test

import (
	"fmt"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/leastrequest"
)

func Example() {
	busy := &resilience.Endpoint{Addr: "127.0.0.1:8081"}
	idle := &resilience.Endpoint{Addr: "127.0.0.1:8082"}
	picker := leastrequest.New().Build([]*resilience.Endpoint{busy, idle})

	// Three requests are outstanding on busy.
	for range 3 {
		busy.Begin()
	}
	e, _ := picker.Pick(resilience.PickInfo{})
	fmt.Println("picked", e.Addr)

	// Each request brackets its work with Begin and End, which is what the
	// picker reads. Once idle carries more, busy wins.
	for range 4 {
		idle.Begin()
	}
	e, _ = picker.Pick(resilience.PickInfo{})
	fmt.Println("picked", e.Addr)

	// A request retried after failing on busy avoids it.
	e, _ = picker.Pick(resilience.PickInfo{Avoid: busy})
	fmt.Println("retry picked", e.Addr)
	// Output:
	// picked 127.0.0.1:8082
	// picked 127.0.0.1:8081
	// retry picked 127.0.0.1:8082
}
