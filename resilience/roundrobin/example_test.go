package roundrobin_test

import (
	"fmt"
	"time"

	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/roundrobin"
)

func Example() {
	eps := []*resilience.Endpoint{
		{Addr: "127.0.0.1:8081"},
		{Addr: "127.0.0.1:8082"},
		{Addr: "127.0.0.1:8083"},
	}
	position := map[*resilience.Endpoint]int{eps[0]: 0, eps[1]: 1, eps[2]: 2}
	picker := roundrobin.New().Build(eps)

	// Each picker starts at a random endpoint, so print every pick as its
	// distance in the rotation from the first one.
	var turns []int
	first := -1
	for range 7 {
		e, err := picker.Pick(resilience.PickInfo{})
		if err != nil {
			fmt.Println(err)
			return
		}
		if first < 0 {
			first = position[e]
		}
		turns = append(turns, (position[e]-first+len(eps))%len(eps))
	}
	fmt.Println("turns:", turns)

	// The endpoint a request just failed on is skipped while others remain.
	var picked []bool
	for range 4 {
		e, _ := picker.Pick(resilience.PickInfo{Avoid: eps[0]})
		picked = append(picked, e == eps[0])
	}
	fmt.Println("avoided endpoint picked:", picked)

	// Local health marks alone never fail a request: with no other choice,
	// a down endpoint is still returned.
	eps[0].MarkDown(time.Now().Add(time.Minute))
	single := roundrobin.New().Build(eps[:1])
	e, err := single.Pick(resilience.PickInfo{Avoid: eps[0]})
	fmt.Println("last resort:", e.Addr, err)
	// Output:
	// turns: [0 1 2 0 1 2 0]
	// avoided endpoint picked: [false false false false]
	// last resort: 127.0.0.1:8081 <nil>
}
