package discovery

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestUpdateRejectsTooLargeEntry(t *testing.T) {
	m := start(t, testConfig(t, "alpha"))
	before := m.View()
	err := m.Update(func(in *Instance) {
		in.State = StateReady
		in.Labels = map[string]string{}
		for i := range MaxLabels {
			in.Labels[fmt.Sprintf("label-%02d", i)] = strings.Repeat("x", 100)
		}
	})
	if err == nil {
		t.Fatal("Update accepted an entry larger than a gossip packet")
	}
	want := fmt.Sprintf("the limit is %d bytes", entryLimit(testMesh, true))
	if !strings.HasPrefix(err.Error(), "discovery: update: entry is ") || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want size and %q", err, want)
	}
	t.Log(err)
	if got := m.Local(); got.Seq != 1 || got.State != StateStarting || got.Labels != nil {
		t.Errorf("old entry not kept: %+v", got)
	}
	if m.View() != before {
		t.Error("view changed after a rejected update")
	}
	// An entry of exactly the limit is accepted; one byte more is not.
	limit := entryLimit(testMesh, true)
	if err := m.Update(func(in *Instance) { fillTo(t, in, limit) }); err != nil {
		t.Fatalf("entry of exactly %d bytes rejected: %v", limit, err)
	}
	if err := m.Update(func(in *Instance) { fillTo(t, in, limit+1) }); err == nil {
		t.Fatalf("entry of %d bytes accepted", limit+1)
	}
}

// fillTo adds labels to in until its encoded size is exactly size.
func fillTo(t *testing.T, in *Instance, size int) {
	t.Helper()
	in.Labels = map[string]string{}
	for i := 0; ; i++ {
		key := fmt.Sprintf("k%02d", i)
		in.Labels[key] = ""
		wire, _ := encodeEntry(in)
		room := size - len(wire)
		if room < 0 {
			t.Fatalf("cannot reach %d bytes", size)
		}
		in.Labels[key] = strings.Repeat("x", min(room, MaxLabelValueLen))
		if room <= MaxLabelValueLen {
			if wire, _ := encodeEntry(in); len(wire) != size {
				t.Fatalf("filled to %d bytes, want %d", len(wire), size)
			}
			return
		}
	}
}

func TestUpdateRejectsInvalidEntries(t *testing.T) {
	m := start(t, testConfig(t, "alpha"))
	tests := map[string]func(*Instance){
		"node change":   func(in *Instance) { in.Node = "other-00000000" },
		"bad state":     func(in *Instance) { in.State = 0 },
		"bad service":   func(in *Instance) { in.Service = "-bad" },
		"bad endpoint":  func(in *Instance) { in.Endpoints = append(in.Endpoints, Endpoint{Protocol: "http", Addr: "no-port"}) },
		"bad label":     func(in *Instance) { in.Labels = map[string]string{"k": "line\nbreak"} },
		"heavy":         func(in *Instance) { in.Weight = MaxWeight + 1 },
		"too many eps":  func(in *Instance) { in.Endpoints = make([]Endpoint, MaxEndpoints+1) },
		"bad zone":      func(in *Instance) { in.Zone = "us east" },
		"bad version":   func(in *Instance) { in.Version = strings.Repeat("v", MaxTagLen+1) },
		"bad label key": func(in *Instance) { in.Labels = map[string]string{"": "v"} },
	}
	for name, fn := range tests {
		if err := m.Update(fn); err == nil || !strings.HasPrefix(err.Error(), "discovery: update: ") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if m.Local().Seq != 1 {
		t.Errorf("Seq moved to %d", m.Local().Seq)
	}
}

func TestMetaFitsForLargestService(t *testing.T) {
	service := strings.Repeat("s", MaxServiceLen)
	meta := encodeMeta(nodeMeta{state: StateDraining, leaving: true, seq: ^uint64(0), service: service})
	if len(meta) > maxMetaLen || maxMetaLen > 512 {
		t.Fatalf("meta is %d bytes, max %d", len(meta), maxMetaLen)
	}
	cfg := testConfig(t, service)
	m := start(t, cfg)
	if err := m.Update(func(in *Instance) { in.State = StateDraining }); err != nil {
		t.Fatal(err)
	}
	if got := m.del.NodeMeta(512); len(got) == 0 || len(got) > 512 {
		t.Fatalf("NodeMeta is %d bytes", len(got))
	}
	if got := m.del.NodeMeta(3); got != nil {
		t.Errorf("NodeMeta ignored its limit: %d bytes", len(got))
	}
	if !strings.HasPrefix(m.Name(), service+"-") || len(m.Name()) > MaxNodeLen {
		t.Errorf("name %q", m.Name())
	}
	// The other side of the wire reads it back.
	got, err := decodeMeta(m.del.NodeMeta(512))
	if err != nil || got.service != service || got.state != StateDraining || got.seq != 2 {
		t.Errorf("decodeMeta = %+v, %v", got, err)
	}
}

func TestSubscribe(t *testing.T) {
	m := start(t, testConfig(t, "alpha"))
	views := make(chan *View, 100)
	cancel := m.Subscribe(func(v *View) { views <- v })
	first := recvView(t, views)
	if first.Version() != m.View().Version() || !first.Has("alpha") {
		t.Fatalf("initial view %d, current %d", first.Version(), m.View().Version())
	}
	if err := m.Update(func(in *Instance) { in.State = StateReady }); err != nil {
		t.Fatal(err)
	}
	next := recvView(t, views)
	if next.Version() <= first.Version() || next.Instances("alpha")[0].State != StateReady {
		t.Fatalf("next view %d: %+v", next.Version(), next.Instances("alpha")[0])
	}
	cancel()
	cancel() // harmless
	if err := m.Update(func(in *Instance) { in.State = StateDraining }); err != nil {
		t.Fatal(err)
	}
	// A second subscriber sees the change, the canceled one does not.
	seen := make(chan *View, 10)
	cancel2 := m.Subscribe(func(v *View) { seen <- v })
	defer cancel2()
	if v := recvView(t, seen); v.Instances("alpha")[0].State != StateDraining {
		t.Fatal("second subscriber missed the change")
	}
	select {
	case v := <-views:
		t.Fatalf("canceled subscriber got view %d", v.Version())
	default:
	}
}

func recvView(t *testing.T, ch <-chan *View) *View {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(2 * time.Second):
		t.Fatal("no view delivered")
		return nil
	}
}

func TestSubscribeOrderAndCoalescing(t *testing.T) {
	m := start(t, testConfig(t, "alpha"))
	release := make(chan struct{})
	var got []uint64
	done := make(chan struct{})
	var cancel func()
	cancel = m.Subscribe(func(v *View) {
		if len(got) == 0 {
			<-release // a slow subscriber: updates pile up meanwhile
		}
		got = append(got, v.Version())
		if v.Instances("alpha")[0].Seq == 21 {
			cancel() // from inside fn: must not deadlock
			close(done)
		}
	})
	for range 20 {
		if err := m.Update(func(in *Instance) { in.Weight++ }); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("latest view never delivered")
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("versions out of order: %v", got)
		}
	}
	if len(got) >= 21 {
		t.Errorf("no coalescing: %d deliveries for 21 views", len(got))
	}
	t.Logf("deliveries: %v", got)
}

func TestNoCallAfterCancel(t *testing.T) {
	m := start(t, testConfig(t, "alpha"))
	var calls atomic.Int64
	first := make(chan struct{}, 1)
	cancel := m.Subscribe(func(v *View) {
		calls.Add(1)
		select {
		case first <- struct{}{}:
		default:
		}
	})
	<-first
	cancel()
	before := calls.Load()
	want := m.Local().Seq + 5
	for range 5 {
		if err := m.Update(func(in *Instance) { in.Weight++ }); err != nil {
			t.Fatal(err)
		}
	}
	// A control subscriber proves the updates were delivered.
	seen := make(chan struct{})
	var once sync.Once
	stop := m.Subscribe(func(v *View) {
		if v.Instances("alpha")[0].Seq >= want {
			once.Do(func() { close(seen) })
		}
	})
	defer stop()
	select {
	case <-seen:
	case <-time.After(5 * time.Second):
		t.Fatal("updates never delivered")
	}
	if got := calls.Load(); got != before {
		t.Errorf("canceled subscriber called %d more times", got-before)
	}
}

// TestLargestEntryTravelsByGossip checks the size limit against the real
// packet path: with push/pull out of the way, an entry of exactly the
// limit must reach the other member through UDP gossip alone.
func TestLargestEntryTravelsByGossip(t *testing.T) {
	for _, key := range [][]byte{testKey, nil} {
		t.Run(fmt.Sprintf("encrypted=%v", key != nil), func(t *testing.T) {
			var ms []*Membership
			for i, s := range []string{"alpha", "beta"} {
				cfg := testConfig(t, s)
				cfg.Key = key
				cfg.Timing.PushPullInterval = time.Minute
				if i > 0 {
					cfg.Join = []string{ms[0].Addr()}
				}
				ms = append(ms, start(t, cfg))
			}
			if !waitFor(t, 5*time.Second, func() bool { return converged(ms...) }) {
				t.Fatal("no convergence")
			}
			limit := entryLimit(testMesh, key != nil)
			if err := ms[0].Update(func(in *Instance) { fillTo(t, in, limit) }); err != nil {
				t.Fatal(err)
			}
			if !waitFor(t, 3*time.Second, func() bool {
				in := find(ms[1].View(), "alpha", ms[0].Name())
				return in != nil && in.Seq == 2 && len(in.Labels) == len(ms[0].Local().Labels)
			}) {
				t.Fatalf("a %d-byte entry did not travel by gossip", limit)
			}
			if st := ms[1].Stats(); st.DroppedPackets != 0 || st.DroppedEntries != 0 {
				t.Errorf("receiver dropped something: %+v", st)
			}
		})
	}
}
