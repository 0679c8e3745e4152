package retry_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/resilience/retry"
)

// keys returns the keys of the problems listed in err, or nil if err is nil.
func keys(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var fe fielderr.List
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a fielderr.List", err)
	}
	var ks []string
	for _, e := range fe {
		if e.Msg == "" || !strings.HasPrefix(e.Error(), "retry: "+e.Key+": ") {
			t.Errorf("malformed field error %q", e.Error())
		}
		ks = append(ks, e.Key)
	}
	return ks
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  retry.Config
		want []string
	}{
		{"zero is the default", retry.Config{}, nil},
		{"default config", retry.DefaultConfig(), nil},
		{"full", retry.Config{Attempts: 10, PerTryTimeout: time.Second, On: []string{"connect-failure", "reset", "5xx", "gateway-error", "429"},
			Backoff: retry.Backoff{Base: time.Millisecond, Max: time.Minute},
			Budget:  retry.BudgetConfig{Ratio: 1, MinPerSecond: 10_000, TTL: time.Minute}}, nil},
		{"attempts too many", retry.Config{Attempts: 11}, []string{"retries.attempts"}},
		{"attempts negative", retry.Config{Attempts: -1}, []string{"retries.attempts"}},
		{"per-try negative", retry.Config{PerTryTimeout: -time.Second}, []string{"retries.perTryTimeout"}},
		{"unknown and duplicate conditions", retry.Config{On: []string{"5xx", "503", "5xx"}}, []string{"retries.on[1]", "retries.on[2]"}},
		{"base above default max", retry.Config{Backoff: retry.Backoff{Base: time.Second}}, []string{"retries.backoff.base"}},
		{"base above max", retry.Config{Backoff: retry.Backoff{Base: 20 * time.Millisecond, Max: 10 * time.Millisecond}}, []string{"retries.backoff.base"}},
		{"negative backoff", retry.Config{Backoff: retry.Backoff{Base: -1, Max: -1}}, []string{"retries.backoff.base", "retries.backoff.max"}},
		{"max too long", retry.Config{Backoff: retry.Backoff{Max: time.Hour}}, []string{"retries.backoff.max"}},
		{"budget out of range", retry.Config{Budget: retry.BudgetConfig{Ratio: 1.5, MinPerSecond: -1, TTL: time.Millisecond}},
			[]string{"retries.budget.ratio", "retries.budget.minPerSecond", "retries.budget.ttl"}},
		{"budget NaN", retry.Config{Budget: retry.BudgetConfig{Ratio: math.NaN(), MinPerSecond: math.NaN()}},
			[]string{"retries.budget.ratio", "retries.budget.minPerSecond"}},
		{"ttl too long", retry.Config{Budget: retry.BudgetConfig{TTL: time.Hour}}, []string{"retries.budget.ttl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keys(t, tt.cfg.Validate()); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate() keys = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConfigValidateMessage(t *testing.T) {
	err := retry.Config{Attempts: 11}.Validate()
	if got, want := err.Error(), "retry: retries.attempts: must be between 1 and 10, got 11"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var fe *fielderr.Error
	if !errors.As(err, &fe) || fe.Key != "retries.attempts" || fe.Pkg != "retry" {
		t.Errorf("errors.As(err, *fielderr.Error) = %+v", fe)
	}
}

func TestHedgeValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  retry.HedgeConfig
		want []string
		on   bool
		n    int
	}{
		{"zero is off", retry.HedgeConfig{}, nil, false, 0},
		{"delay alone sends one", retry.HedgeConfig{Delay: 50 * time.Millisecond}, nil, true, 1},
		{"max extra", retry.HedgeConfig{Delay: time.Millisecond, MaxExtra: 4}, nil, true, 4},
		{"negative delay", retry.HedgeConfig{Delay: -1}, []string{"hedge.delay"}, false, 0},
		{"too many", retry.HedgeConfig{Delay: time.Millisecond, MaxExtra: 5}, []string{"hedge.maxExtra"}, true, 4},
		{"negative extra", retry.HedgeConfig{Delay: time.Millisecond, MaxExtra: -1}, []string{"hedge.maxExtra"}, true, 0},
		{"extra without delay", retry.HedgeConfig{MaxExtra: 2}, []string{"hedge.maxExtra"}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keys(t, tt.cfg.Validate()); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate() keys = %v, want %v", got, tt.want)
			}
			if got := tt.cfg.Enabled(); got != tt.on {
				t.Errorf("Enabled() = %v, want %v", got, tt.on)
			}
			if got := tt.cfg.Extra(); got != tt.n {
				t.Errorf("Extra() = %d, want %d", got, tt.n)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	got := retry.Config{Attempts: 3, On: []string{"5xx"}}.WithDefaults()
	want := retry.Config{
		Attempts: 3, On: []string{"5xx"},
		Backoff: retry.Backoff{Base: 25 * time.Millisecond, Max: 250 * time.Millisecond},
		Budget:  retry.BudgetConfig{Ratio: 0.2, MinPerSecond: 10, TTL: 10 * time.Second},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WithDefaults() = %+v, want %+v", got, want)
	}
	if d := retry.DefaultConfig(); d.Attempts != 2 || !reflect.DeepEqual(d.On, []string{"connect-failure", "gateway-error"}) {
		t.Errorf("DefaultConfig() = %+v", d)
	}
}
