package ringhash_test

import (
	"github.com/weftmesh/weft/resilience/internal/pickertest"

	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/clocktest"
	"github.com/weftmesh/weft/resilience"
	"github.com/weftmesh/weft/resilience/ringhash"
)

// The client engine registers the balancer; so do its tests.
func init() { resilience.Register(ringhash.Balancer{}) }

func TestName(t *testing.T) {
	if ringhash.Name != "ring_hash" {
		t.Errorf("Name = %q, want %q", ringhash.Name, "ring_hash")
	}
	cfg := resilience.BalancerConfig{Name: ringhash.Name, HashKey: resilience.HashKey{Header: "x-user"}}
	if err := cfg.Validate(); err != nil {
		t.Errorf("BalancerConfig does not accept Name: %v", err)
	}
}

func TestKey(t *testing.T) {
	if ringhash.Key("user-1") != ringhash.Key("user-1") {
		t.Fatal("Key is not deterministic")
	}
	seen := map[uint64]string{}
	for i := range 10000 {
		s := fmt.Sprintf("user-%d", i)
		k := ringhash.Key(s)
		if prev, ok := seen[k]; ok {
			t.Fatalf("Key(%q) == Key(%q)", s, prev)
		}
		seen[k] = s
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = ringhash.Key("session=abcdef") }); allocs != 0 {
		t.Errorf("Key allocates %.1f times, want 0", allocs)
	}
}

// keyed returns the PickInfo for the i-th test key.
func keyed(i int) resilience.PickInfo {
	return resilience.PickInfo{Hash: ringhash.Key(fmt.Sprintf("user-%d", i)), HasHash: true}
}

func TestPickEmptyAndSingle(t *testing.T) {
	for _, eps := range [][]*resilience.Endpoint{nil, {}} {
		if e, err := ringhash.New().Build(eps).Pick(keyed(1)); !errors.Is(err, resilience.ErrNoEndpoint) || e != nil {
			t.Errorf("Pick on %d endpoints = %v, %v; want nil, ErrNoEndpoint", len(eps), e, err)
		}
	}
	eps := pickertest.Endpoints(1)
	pickertest.MarkDown(eps[0])
	if e := pickertest.MustPick(t, ringhash.New().Build(eps), eps, resilience.PickInfo{Avoid: eps[0]}); e != eps[0] {
		t.Fatalf("Pick = %v, want the only endpoint", e)
	}
}

func TestPickSameKeySameEndpoint(t *testing.T) {
	eps := pickertest.Endpoints(10)
	p := ringhash.New().Build(eps)
	// A rebuild over new *Endpoint values with the same addresses, in
	// another order, keeps every key in place.
	again := pickertest.Endpoints(10)
	for i, j := 0, len(again)-1; i < j; i, j = i+1, j-1 {
		again[i], again[j] = again[j], again[i]
	}
	q := ringhash.New().Build(again)
	for i := range 2000 {
		a := pickertest.MustPick(t, p, eps, keyed(i))
		for range 3 {
			if b := pickertest.MustPick(t, p, eps, keyed(i)); b != a {
				t.Fatalf("key %d went to %s, then %s", i, a.Addr, b.Addr)
			}
		}
		if b := pickertest.MustPick(t, q, again, keyed(i)); b.Addr != a.Addr {
			t.Fatalf("key %d: %s before the rebuild, %s after", i, a.Addr, b.Addr)
		}
	}
}

func TestPickMovesFewKeys(t *testing.T) {
	const keys = 10000
	for _, n := range []int{3, 10, 50} {
		eps := pickertest.Endpoints(n + 1)
		small := ringhash.New().Build(eps[:n])
		large := ringhash.New().Build(eps)
		moved := 0
		for i := range keys {
			a := pickertest.MustPick(t, small, eps, keyed(i))
			b := pickertest.MustPick(t, large, eps, keyed(i))
			if a != b {
				moved++
				if b != eps[n] {
					t.Fatalf("n=%d: key %d moved from %s to %s, not to the new endpoint", n, i, a.Addr, b.Addr)
				}
			}
		}
		// Adding one endpoint to n (or removing it from n+1) should move
		// about 1/(n+1) of the keys.
		if limit := 1.5 / float64(n+1) * keys; float64(moved) > limit {
			t.Errorf("n=%d: %d of %d keys moved, want at most %.0f", n, moved, keys, limit)
		}
		if moved == 0 {
			t.Errorf("n=%d: no key moved to the new endpoint", n)
		}
	}
}

func TestPickWeightProportional(t *testing.T) {
	eps := pickertest.Endpoints(3)
	eps[0].Weight = 3
	eps[1].Weight = 1
	eps[2].Weight = 0 // means 1
	p := ringhash.New().Build(eps)
	const keys = 50000
	c := make([]int, len(eps))
	for i := range keys {
		c[pickertest.IndexOf(eps, pickertest.MustPick(t, p, eps, keyed(i)))]++
	}
	want := []float64{0.6, 0.2, 0.2}
	for i := range eps {
		if got := float64(c[i]) / keys; math.Abs(got-want[i]) > 0.04 {
			t.Errorf("endpoint %d: share %.3f, want %.2f ± 0.04: %v", i, got, want[i], c)
		}
	}
	if ratio := float64(c[0]) / float64(c[1]); ratio < 2.6 || ratio > 3.4 {
		t.Errorf("weights 3:1: key ratio %.2f, want about 3", ratio)
	}
}

func TestPickWithoutHashIsRandom(t *testing.T) {
	eps := pickertest.Endpoints(2)
	eps[0].Weight = 3
	const picks = 40000
	c := pickertest.Counts(t, ringhash.New().Build(eps), eps, resilience.PickInfo{}, picks)
	if got := float64(c[0]) / picks; math.Abs(got-0.75) > 0.04 {
		t.Errorf("no hash, weights 3:1: share %.3f, want 0.75: %v", got, c)
	}
}

func TestPickSkipsUnusable(t *testing.T) {
	const n, keys = 5, 3000
	eps := pickertest.Endpoints(n)
	p := ringhash.New().Build(eps)
	before := make([]*resilience.Endpoint, keys)
	for i := range before {
		before[i] = pickertest.MustPick(t, p, eps, keyed(i))
	}
	// The same set without the endpoint is what a key of the down one
	// must go to: the next distinct endpoint on the ring.
	without := ringhash.New().Build(append(append([]*resilience.Endpoint{}, eps[:2]...), eps[3:]...))

	pickertest.MarkDown(eps[2])
	for i := range keys {
		got := pickertest.MustPick(t, p, eps, keyed(i))
		if got == eps[2] {
			t.Fatalf("key %d went to the down endpoint", i)
		}
		if before[i] != eps[2] && got != before[i] {
			t.Fatalf("key %d of a healthy endpoint moved from %s to %s", i, before[i].Addr, got.Addr)
		}
		if want := pickertest.MustPick(t, without, eps, keyed(i)); got != want {
			t.Fatalf("key %d went to %s, want %s as if the down endpoint had left", i, got.Addr, want.Addr)
		}
		// Avoid works the same way.
		if a := pickertest.MustPick(t, p, eps, resilience.PickInfo{Hash: keyed(i).Hash, HasHash: true, Avoid: got}); a == got || a == eps[2] {
			t.Fatalf("key %d avoiding %s went to %s", i, got.Addr, a.Addr)
		}
	}

	// With one available endpoint, every key goes there, even when the
	// request avoids it: an avoided available endpoint beats a down one.
	for _, e := range eps {
		pickertest.MarkDown(e)
	}
	eps[4].MarkUp()
	for i := range 200 {
		info := keyed(i)
		if got := pickertest.MustPick(t, p, eps, info); got != eps[4] {
			t.Fatalf("one available endpoint: key %d went to %s", i, got.Addr)
		}
		info.Avoid = eps[4]
		if got := pickertest.MustPick(t, p, eps, info); got != eps[4] {
			t.Fatalf("one available endpoint, avoided: key %d went to %s, want it still", i, got.Addr)
		}
	}
	eps[4].MarkDown(time.Now().Add(time.Hour))
	for i := range 200 {
		info := keyed(i)
		info.Avoid = eps[1]
		if got := pickertest.MustPick(t, p, eps, info); got == eps[1] {
			t.Fatalf("all down: key %d went to the avoided endpoint", i)
		}
	}
}

func TestPickSlowStart(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := clocktest.New(start)
	eps := pickertest.Endpoints(4)
	for _, e := range eps[:3] {
		e.ReadySince = start.Add(-time.Hour)
	}
	eps[3].ReadySince = start
	const window, keys = 10 * time.Second, 20000
	p := ringhash.New(resilience.BuildOptions{SlowStart: window, Now: clock.Now}).Build(eps)
	final := ringhash.New().Build(eps)

	var prev map[int]bool
	for _, tt := range []struct {
		at     time.Duration
		factor float64
	}{{0, 0.1}, {5 * time.Second, 0.55}, {window, 1}} {
		clock.Set(start.Add(tt.at))
		own := map[int]bool{}
		for i := range keys {
			got := pickertest.MustPick(t, p, eps, keyed(i))
			want := pickertest.MustPick(t, final, eps, keyed(i))
			if got == eps[3] {
				own[i] = true
				if want != eps[3] {
					t.Fatalf("at %v: key %d went to the new endpoint, which does not own it", tt.at, i)
				}
			} else if want != eps[3] && got != want {
				t.Fatalf("at %v: key %d of an old endpoint moved", tt.at, i)
			}
		}
		share := float64(len(own)) / keys
		if wantShare := 0.25 * tt.factor; math.Abs(share-wantShare) > 0.05 {
			t.Errorf("at %v: new endpoint holds %.3f of the keys, want about %.3f", tt.at, share, wantShare)
		}
		for i := range prev {
			if !own[i] {
				t.Fatalf("at %v: key %d left the new endpoint while its share grew", tt.at, i)
			}
		}
		prev = own
	}
}

func TestPickDoesNotAllocate(t *testing.T) {
	start := time.Now()
	clock := clocktest.New(start)
	for _, n := range []int{3, 100} {
		for _, ramping := range []bool{false, true} {
			eps := pickertest.Endpoints(n)
			for i, e := range eps {
				e.Weight = uint32(i % 3)
				if ramping && i%2 == 0 {
					e.ReadySince = start
				}
			}
			p := ringhash.New(resilience.BuildOptions{SlowStart: time.Minute, Now: clock.Now}).Build(eps)
			for _, info := range []resilience.PickInfo{{}, keyed(7), {Hash: 1, HasHash: true, Avoid: eps[1]}} {
				allocs := testing.AllocsPerRun(1000, func() {
					if _, err := p.Pick(info); err != nil {
						t.Fatal(err)
					}
				})
				if allocs != 0 {
					t.Errorf("n=%d ramping=%v: Pick allocates %.1f times, want 0", n, ramping, allocs)
				}
			}
		}
	}
}
