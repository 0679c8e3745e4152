package main

import (
	"slices"
	"strings"
	"testing"
)

func TestStatOf(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want stat
	}{
		{nil, stat{}},
		{[]float64{3}, stat{Median: 3, Min: 3, Max: 3, N: 1}},
		{[]float64{5, 1, 3}, stat{Median: 3, Min: 1, Max: 5, N: 3}},
		{[]float64{4, 1, 3, 2}, stat{Median: 2.5, Min: 1, Max: 4, N: 4}},
	} {
		if got := statOf(tc.in); got != tc.want {
			t.Errorf("statOf(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{count(0), "0"},
		{count(999.6), "1 000"},
		{count(1234567), "1 234 567"},
		{count(-12345), "-12 345"},
		{fmtStat(stat{}, ratio), "–"},
		{fmtStat(statOf([]float64{0.9}), ratio), "0.90×"},
		{fmtStat(statOf([]float64{0.9, 0.79, 0.95}), ratio), "0.90× [0.79×..0.95×]"},
		{fmtStat(statOf([]float64{0.05, -0.01}), signed(3)), "+0.020 [-0.010..+0.050]"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		hi   float64
		want []float64
	}{
		{21433, []float64{0, 5000, 10000, 15000, 20000, 25000}},
		{186.8, []float64{0, 25, 50, 75, 100, 125, 150, 175, 200}},
		{1, []float64{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}},
	} {
		if got := niceTicks(tc.hi); !slices.Equal(got, tc.want) {
			t.Errorf("niceTicks(%v) = %v, want %v", tc.hi, got, tc.want)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	got, err := replaceSection("a\n"+docBegin+"\nold\n"+docEnd+"\nb\n", "new\n")
	if want := "a\n" + docBegin + "\nnew\n" + docEnd + "\nb\n"; err != nil || got != want {
		t.Errorf("replaceSection = %q, %v; want %q", got, err, want)
	}
	for _, doc := range []string{"no markers", docEnd + docBegin} {
		if _, err := replaceSection(doc, "x"); err == nil || !strings.Contains(err.Error(), "add the two markers") {
			t.Errorf("replaceSection(%q): %v, want an error saying to add the markers", doc, err)
		}
	}
}

func TestComparisons(t *testing.T) {
	got := comparisons([]string{"net-http", baseline, "weft", "grpc-go-mtls", "weft-grpc-mtls"})
	want := []comparison{{"net-http", baseline}, {"weft", baseline}, {"grpc-go-mtls", baseline}, {"weft-grpc-mtls", baseline},
		{"weft", "net-http"}, {"weft-grpc-mtls", "grpc-go-mtls"}}
	if !slices.Equal(got, want) {
		t.Errorf("comparisons = %v, want %v", got, want)
	}
	if got := comparisons([]string{"weft", "weft-grpc-mtls"}); len(got) != 0 {
		t.Errorf("without their bases: %v, want none", got)
	}
}

func TestSelectModes(t *testing.T) {
	ms, err := selectModes("weft-mtls, raw-mtls")
	if err != nil || len(ms) != 2 || ms[0].name != baseline || ms[1].name != "weft-mtls" {
		t.Errorf("selectModes = %v, %v; want raw-mtls, weft-mtls in the order of modes", ms, err)
	}
	if _, err := selectModes("weft,envoy"); err == nil || !strings.Contains(err.Error(), `"envoy"`) || !strings.Contains(err.Error(), "haproxy-pair") {
		t.Errorf("an unknown mode: %v, want an error naming it and the modes there are", err)
	}
}

func TestParseOptions(t *testing.T) {
	var sink strings.Builder
	for _, args := range [][]string{{"-reps", "0"}, {"-rates", "fast"}, {"-rates", "0"}, {"-duration", "0s"}, {"-concurrency", "0"}, {"extra"}} {
		if _, err := parseOptions(args, &sink); err == nil {
			t.Errorf("parseOptions(%q) succeeded, want an error", args)
		}
	}
	o, err := parseOptions([]string{"-rates", "500, 1000", "-modes", "weft"}, &sink)
	if err != nil || !slices.Equal(o.Rates, []float64{500, 1000}) || len(o.modes) != 1 || o.Reps != 5 || o.Concurrency != 16 {
		t.Errorf("parseOptions = %+v, %v", o, err)
	}
}
