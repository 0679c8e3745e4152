package resilience_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/resilience"
)

func TestBalancerConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  resilience.BalancerConfig
		want []string // "key: message fragment"
	}{
		{"zero", resilience.BalancerConfig{}, nil},
		{"every name", resilience.BalancerConfig{Name: "round_robin"}, nil},
		{"ring hash by header", resilience.BalancerConfig{Name: "ring_hash", HashKey: resilience.HashKey{Header: "x-user-id"}}, nil},
		{"ring hash by cookie", resilience.BalancerConfig{Name: "ring_hash", HashKey: resilience.HashKey{Cookie: "session"}}, nil},
		{"full", resilience.BalancerConfig{
			Name:      "peak_ewma",
			SlowStart: resilience.SlowStart{Window: 30 * time.Second},
			ZoneAware: resilience.ZoneAware{Enabled: true, MinHealthy: 0.7},
		}, nil},
		{"unknown name", resilience.BalancerConfig{Name: "fastest"}, []string{"loadBalancer: unknown balancer"}},
		{"ring hash without key", resilience.BalancerConfig{Name: "ring_hash"}, []string{"hashKey: ring_hash needs a key"}},
		{"both keys", resilience.BalancerConfig{Name: "ring_hash", HashKey: resilience.HashKey{Header: "a", Cookie: "b"}}, []string{"hashKey: set hashKey.header or hashKey.cookie, not both"}},
		{"key without ring hash", resilience.BalancerConfig{HashKey: resilience.HashKey{Header: "a"}}, []string{"hashKey: only ring_hash"}},
		{"bad names", resilience.BalancerConfig{Name: "ring_hash", HashKey: resilience.HashKey{Header: "x user", Cookie: "a;b"}}, []string{
			"hashKey: set", "hashKey.header: \"x user\" is not", "hashKey.cookie: \"a;b\" is not"}},
		{"negative window", resilience.BalancerConfig{SlowStart: resilience.SlowStart{Window: -time.Second}}, []string{"slowStart.window: must be between"}},
		{"long window", resilience.BalancerConfig{SlowStart: resilience.SlowStart{Window: 2 * time.Hour}}, []string{"slowStart.window: must be between"}},
		{"min healthy above 1", resilience.BalancerConfig{ZoneAware: resilience.ZoneAware{MinHealthy: 1.5}}, []string{"zoneAware.minHealthy: must be between 0 and 1"}},
		{"min healthy NaN", resilience.BalancerConfig{ZoneAware: resilience.ZoneAware{MinHealthy: math.NaN()}}, []string{"zoneAware.minHealthy:"}},
		{"several", resilience.BalancerConfig{Name: "x", SlowStart: resilience.SlowStart{Window: -1}, ZoneAware: resilience.ZoneAware{MinHealthy: -1}}, []string{
			"loadBalancer:", "slowStart.window:", "zoneAware.minHealthy:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var fe fielderr.List
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a fielderr.List", err)
			}
			if len(fe) != len(tt.want) {
				t.Fatalf("Validate found %d problems, want %d: %v", len(fe), len(tt.want), err)
			}
			for i, w := range tt.want {
				if got := fe[i].Key + ": " + fe[i].Msg; !strings.HasPrefix(got, w) {
					t.Errorf("problem %d = %q, want it to start with %q", i, got, w)
				}
				if !strings.HasPrefix(fe[i].Error(), "resilience: ") {
					t.Errorf("problem %d: Error() = %q, want the package prefix", i, fe[i].Error())
				}
			}
			var one *fielderr.Error
			if !errors.As(err, &one) || *one != *fe[0] {
				t.Errorf("errors.As(*fielderr.Error) = %v, want the first problem", one)
			}
			if lines := strings.Count(err.Error(), "\n") + 1; lines != len(fe) {
				t.Errorf("Error() has %d lines, want %d", lines, len(fe))
			}
		})
	}
	for _, name := range []string{"round_robin", "least_request", "peak_ewma", "random"} {
		if err := (resilience.BalancerConfig{Name: name}).Validate(); err != nil {
			t.Errorf("Name %q: Validate = %v, want nil", name, err)
		}
	}
}

// FuzzBalancerConfigValidate checks that Validate accepts exactly the
// header and cookie names made of token characters, and never panics.
func FuzzBalancerConfigValidate(f *testing.F) {
	f.Add("x-user-id", "", 0.5, int64(time.Second))
	f.Add("", "session", 1.0, int64(0))
	f.Add("a b", "c;d", -1.0, int64(-1))
	f.Add("é", "\x7f", math.Inf(1), int64(time.Hour+1))
	f.Fuzz(func(t *testing.T, header, cookie string, minHealthy float64, window int64) {
		cfg := resilience.BalancerConfig{
			Name:      "ring_hash",
			HashKey:   resilience.HashKey{Header: header, Cookie: cookie},
			SlowStart: resilience.SlowStart{Window: time.Duration(window)},
			ZoneAware: resilience.ZoneAware{Enabled: true, MinHealthy: minHealthy},
		}
		err := cfg.Validate()
		var fe fielderr.List
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("Validate = %v, not a fielderr.List", err)
		}
		keys := map[string]bool{}
		for _, e := range fe {
			keys[e.Key] = true
		}
		token := func(s string) bool {
			if s == "" {
				return false
			}
			for _, c := range []byte(s) {
				if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
					return false
				}
			}
			return true
		}
		if header != "" && keys["hashKey.header"] == token(header) {
			t.Errorf("header %q: reported %v, token %v", header, keys["hashKey.header"], token(header))
		}
		if cookie != "" && keys["hashKey.cookie"] == token(cookie) {
			t.Errorf("cookie %q: reported %v, token %v", cookie, keys["hashKey.cookie"], token(cookie))
		}
		if wantKey := (header == "") == (cookie == ""); keys["hashKey"] != wantKey {
			t.Errorf("header %q cookie %q: hashKey reported %v, want %v", header, cookie, keys["hashKey"], wantKey)
		}
		validMin := minHealthy >= 0 && minHealthy <= 1
		if keys["zoneAware.minHealthy"] == validMin {
			t.Errorf("minHealthy %v: reported %v", minHealthy, keys["zoneAware.minHealthy"])
		}
		validWindow := window >= 0 && time.Duration(window) <= resilience.MaxSlowStart
		if keys["slowStart.window"] == validWindow {
			t.Errorf("window %v: reported %v", time.Duration(window), keys["slowStart.window"])
		}
	})
}
