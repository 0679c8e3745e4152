package route_test

import (
	"reflect"
	"testing"

	"github.com/weftmesh/weft/transport/route"
)

func TestSubsetSelects(t *testing.T) {
	labels := map[string]string{"region": "eu", "track": "canary"}
	tests := []struct {
		name    string
		s       route.Subset
		version string
		labels  map[string]string
		want    bool
	}{
		{"empty subset selects all", route.Subset{}, "", nil, true},
		{"version match", route.Subset{Version: "v2"}, "v2", nil, true},
		{"version mismatch", route.Subset{Version: "v2"}, "v1", labels, false},
		{"version is exact", route.Subset{Version: "v2"}, "V2", nil, false},
		{"endpoint without version", route.Subset{Version: "v2"}, "", nil, false},
		{"one label", route.Subset{Labels: map[string]string{"region": "eu"}}, "v1", labels, true},
		{"all labels", route.Subset{Labels: map[string]string{"region": "eu", "track": "canary"}}, "v1", labels, true},
		{"label value mismatch", route.Subset{Labels: map[string]string{"region": "us"}}, "v1", labels, false},
		{"label missing", route.Subset{Labels: map[string]string{"zone": "a"}}, "v1", labels, false},
		{"empty label value needs the label", route.Subset{Labels: map[string]string{"zone": ""}}, "v1", labels, false},
		{"empty label value present", route.Subset{Labels: map[string]string{"zone": ""}}, "v1", map[string]string{"zone": ""}, true},
		{"version and labels", route.Subset{Version: "v1", Labels: map[string]string{"region": "eu"}}, "v1", labels, true},
		{"version and labels, version wrong", route.Subset{Version: "v2", Labels: map[string]string{"region": "eu"}}, "v1", labels, false},
	}
	for _, tt := range tests {
		if got := tt.s.Selects(tt.version, tt.labels); got != tt.want {
			t.Errorf("%s: Selects = %v, want %v", tt.name, got, tt.want)
		}
	}
}

type endpoint struct {
	addr, version string
	labels        map[string]string
}

func TestPartition(t *testing.T) {
	tbl := mustCompile(t, map[string]route.Subset{
		"v1":     {Version: "v1"},
		"v2":     {Version: "v2"},
		"eu":     {Labels: map[string]string{"region": "eu"}},
		"v3":     {Version: "v3"},
		"anyone": {},
	})
	eps := []endpoint{
		{"a:1", "v1", map[string]string{"region": "eu"}},
		{"b:1", "v2", map[string]string{"region": "us"}},
		{"c:1", "v1", nil},
		{"d:1", "", map[string]string{"region": "eu"}},
	}
	got := route.Partition(tbl, eps, func(e endpoint) (string, map[string]string) { return e.version, e.labels })
	addrs := map[string][]string{}
	for name, list := range got {
		addrs[name] = []string{}
		for _, e := range list {
			addrs[name] = append(addrs[name], e.addr)
		}
	}
	want := map[string][]string{
		"v1":     {"a:1", "c:1"},
		"v2":     {"b:1"},
		"eu":     {"a:1", "d:1"},
		"v3":     {},
		"anyone": {"a:1", "b:1", "c:1", "d:1"},
	}
	if !reflect.DeepEqual(addrs, want) {
		t.Errorf("Partition = %v, want %v", addrs, want)
	}
	if names := tbl.SubsetNames(); !reflect.DeepEqual(names, []string{"anyone", "eu", "v1", "v2", "v3"}) {
		t.Errorf("SubsetNames = %v", names)
	}
	if got := route.Partition(nil, eps, func(e endpoint) (string, map[string]string) { return e.version, e.labels }); len(got) != 0 {
		t.Errorf("Partition(nil table) = %v, want empty", got)
	}
}
