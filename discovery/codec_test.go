package discovery

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func fullEntry() *Instance {
	return &Instance{
		Node:      "orders-0a1b2c3d",
		Service:   "orders",
		Version:   "v2.1+build.7",
		Zone:      "eu-west-1a",
		Labels:    map[string]string{"team": "checkout", "canary": "", "k8s.io/pod": "orders-7f9c"},
		Endpoints: []Endpoint{{Protocol: "http", Addr: "10.0.0.7:8080"}, {Protocol: "grpc", Addr: "[::1]:9090"}},
		Weight:    3,
		State:     StateReady,
		Seq:       42,
	}
}

func TestEntryRoundTrip(t *testing.T) {
	in := fullEntry()
	wire, err := encodeEntry(in)
	if err != nil {
		t.Fatal(err)
	}
	if wire[0] != entryVersion {
		t.Fatalf("version byte %d", wire[0])
	}
	out, err := decodeEntry(wire)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
	// Fields added by a newer release are ignored.
	newer := append(wire[:len(wire)-1:len(wire)-1], []byte(`,"future":{"x":1}}`)...)
	if _, err := decodeEntry(newer); err != nil {
		t.Errorf("unknown field rejected: %v", err)
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	valid := func(edit func(*Instance)) []byte {
		in := fullEntry()
		edit(in)
		b, _ := encodeEntry(in)
		return b
	}
	tests := map[string][]byte{
		"empty":            nil,
		"version only":     {entryVersion},
		"unknown version":  append([]byte{2}, valid(func(*Instance) {})[1:]...),
		"not json":         append([]byte{entryVersion}, "nope"...),
		"trailing garbage": append(valid(func(*Instance) {}), '}'),
		"too large":        append([]byte{entryVersion}, bytes.Repeat([]byte(" "), maxEntryWire)...),
		"wrong types":      append([]byte{entryVersion}, `{"n":1,"s":"a","st":1,"q":1}`...),
		"no node":          valid(func(in *Instance) { in.Node = "" }),
		"node with space":  valid(func(in *Instance) { in.Node = "a b" }),
		"long node":        valid(func(in *Instance) { in.Node = strings.Repeat("n", MaxNodeLen+1) }),
		"no service":       valid(func(in *Instance) { in.Service = "" }),
		"uppercase":        valid(func(in *Instance) { in.Service = "Orders" }),
		"long service":     valid(func(in *Instance) { in.Service = strings.Repeat("s", MaxServiceLen+1) }),
		"trailing hyphen":  valid(func(in *Instance) { in.Service = "orders-" }),
		"state 0":          valid(func(in *Instance) { in.State = 0 }),
		"state 4":          valid(func(in *Instance) { in.State = 4 }),
		"seq 0":            valid(func(in *Instance) { in.Seq = 0 }),
		"protocol":         valid(func(in *Instance) { in.Endpoints[0].Protocol = "HTTP" }),
		"addr no port":     valid(func(in *Instance) { in.Endpoints[0].Addr = "10.0.0.7" }),
		"addr port 0":      valid(func(in *Instance) { in.Endpoints[0].Addr = "10.0.0.7:0" }),
		"addr bad host":    valid(func(in *Instance) { in.Endpoints[0].Addr = "a/b:80" }),
		"addr empty host":  valid(func(in *Instance) { in.Endpoints[0].Addr = ":80" }),
		"weight":           valid(func(in *Instance) { in.Weight = MaxWeight + 1 }),
		"label value ctrl": valid(func(in *Instance) { in.Labels["x"] = "\x00" }),
		"label key":        valid(func(in *Instance) { in.Labels["a=b"] = "" }),
		"zone":             valid(func(in *Instance) { in.Zone = "eu west" }),
		"version":          valid(func(in *Instance) { in.Version = "v1 beta" }),
		"endpoints": valid(func(in *Instance) {
			for range MaxEndpoints {
				in.Endpoints = append(in.Endpoints, in.Endpoints[0])
			}
		}),
		"labels": valid(func(in *Instance) {
			for i := range MaxLabels {
				in.Labels[strings.Repeat("k", i+1)] = ""
			}
		}),
	}
	for name, b := range tests {
		if in, err := decodeEntry(b); err == nil {
			t.Errorf("%s: accepted %+v", name, in)
		}
	}
}

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []nodeMeta{
		{state: StateStarting, seq: 1, service: "a"},
		{state: StateDraining, leaving: true, seq: 1 << 40, service: strings.Repeat("x", MaxServiceLen)},
	} {
		got, err := decodeMeta(encodeMeta(m))
		if err != nil || got != m {
			t.Errorf("round trip %+v: %+v, %v", m, got, err)
		}
	}
	for name, b := range map[string][]byte{
		"empty":      nil,
		"version":    {2, 1, 0, 1, 'a'},
		"short":      {1, 1, 0},
		"state":      {1, 7, 0, 1, 'a'},
		"seq 0":      {1, 1, 0, 0, 'a'},
		"bad varint": {1, 1, 0, 0x80},
		"service":    {1, 1, 0, 1, 'A'},
		"no service": {1, 1, 0, 1},
	} {
		if m, err := decodeMeta(b); err == nil {
			t.Errorf("%s: accepted %+v", name, m)
		}
	}
}

func TestStateFraming(t *testing.T) {
	entries := [][]byte{[]byte("one"), {}, bytes.Repeat([]byte("x"), 300)}
	var got [][]byte
	if err := decodeState(encodeState(entries), func(e []byte) { got = append(got, e) }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, entries) {
		t.Errorf("got %q", got)
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"version":   {9},
		"truncated": {stateVersion, 5, 'a'},
		"varint":    {stateVersion, 0x80},
		"too large": append([]byte{stateVersion, 0xff, 0xff, 0x03}, make([]byte, 0xffff)...),
	} {
		if err := decodeState(b, func([]byte) {}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	wire, _ := encodeEntry(fullEntry())
	f.Add(wire)
	f.Add([]byte{entryVersion, '{', '}'})
	f.Add([]byte(`{"n":"a"}`))
	f.Add(append([]byte{entryVersion}, `{"n":"a-1","s":"a","st":1,"q":1,"l":{"k":"v"},"e":[{"p":"grpc","a":"h:1"}]}`...))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := decodeEntry(b)
		if err != nil {
			return
		}
		// Whatever is accepted is valid and survives a round trip.
		if err := validateInstance(in); err != nil {
			t.Fatalf("accepted an invalid entry: %v", err)
		}
		again, err := encodeEntry(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := decodeEntry(again)
		if err != nil {
			t.Fatalf("re-encoded entry rejected: %v", err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("round trip changed %+v into %+v", in, out)
		}
	})
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add(encodeMeta(nodeMeta{state: StateReady, seq: 7, service: "orders"}))
	f.Add([]byte{1, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		enc := encodeMeta(m)
		if len(enc) > maxMetaLen {
			t.Fatalf("accepted meta re-encodes to %d bytes", len(enc))
		}
		if got, err := decodeMeta(enc); err != nil || got != m {
			t.Fatalf("round trip %+v: %+v, %v", m, got, err)
		}
	})
}

func FuzzDecodeState(f *testing.F) {
	w1, _ := encodeEntry(fullEntry())
	f.Add(encodeState([][]byte{w1, w1}))
	f.Add([]byte{stateVersion, 3, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		_ = decodeState(b, func(e []byte) {
			total += len(e)
			if len(e) > maxEntryWire {
				t.Fatalf("handed out a %d-byte entry", len(e))
			}
			_, _ = decodeEntry(e)
		})
		if total > len(b) {
			t.Fatalf("handed out %d bytes from %d", total, len(b))
		}
	})
}
