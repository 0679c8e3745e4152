package limit

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		keys []string
	}{
		{"zero", Config{}, nil},
		{"full", Config{
			RateLimit:           &RateLimit{PerCaller: &Bucket{RPS: 100, Burst: 20}, Total: &Bucket{RPS: 1000}},
			MaxConcurrent:       256,
			AdaptiveConcurrency: &AdaptiveConfig{Algorithm: AIMD, MinLimit: 10, MaxLimit: 500, InitialLimit: 50, Window: time.Second, LatencyTarget: 200 * time.Millisecond},
		}, nil},
		{"empty rateLimit", Config{RateLimit: &RateLimit{}}, []string{"rateLimit"}},
		{"bad buckets", Config{RateLimit: &RateLimit{
			PerCaller: &Bucket{RPS: 0, Burst: -1},
			Total:     &Bucket{RPS: math.NaN()},
		}}, []string{"rateLimit.perCaller.rps", "rateLimit.perCaller.burst", "rateLimit.total.rps"}},
		{"infinite rps", Config{RateLimit: &RateLimit{Total: &Bucket{RPS: math.Inf(1)}}}, []string{"rateLimit.total.rps"}},
		{"negative maxConcurrent", Config{MaxConcurrent: -1}, []string{"maxConcurrent"}},
		{"bad algorithm", Config{AdaptiveConcurrency: &AdaptiveConfig{Algorithm: "vegas"}}, []string{"adaptiveConcurrency.algorithm"}},
		{"negative limits", Config{AdaptiveConcurrency: &AdaptiveConfig{MinLimit: -1, MaxLimit: -2}},
			[]string{"adaptiveConcurrency.minLimit", "adaptiveConcurrency.maxLimit"}},
		{"min above max", Config{AdaptiveConcurrency: &AdaptiveConfig{MinLimit: 50, MaxLimit: 10}}, []string{"adaptiveConcurrency.minLimit"}},
		{"initial out of range", Config{AdaptiveConcurrency: &AdaptiveConfig{MinLimit: 50, InitialLimit: 10}}, []string{"adaptiveConcurrency.initialLimit"}},
		{"initial defaults bounds", Config{AdaptiveConcurrency: &AdaptiveConfig{InitialLimit: 2}}, nil},
		{"negative durations", Config{AdaptiveConcurrency: &AdaptiveConfig{Window: -1, ProbeInterval: -1, LatencyTarget: -1}},
			[]string{"adaptiveConcurrency.window", "adaptiveConcurrency.probeInterval", "adaptiveConcurrency.latencyTarget"}},
		{"probe shorter than window", Config{AdaptiveConcurrency: &AdaptiveConfig{Window: time.Minute, ProbeInterval: time.Second}},
			[]string{"adaptiveConcurrency.probeInterval"}},
		{"keys of the other algorithm", Config{AdaptiveConcurrency: &AdaptiveConfig{LatencyTarget: time.Second}},
			[]string{"adaptiveConcurrency.latencyTarget"}},
		{"probe with aimd", Config{AdaptiveConcurrency: &AdaptiveConfig{Algorithm: AIMD, ProbeInterval: time.Minute}},
			[]string{"adaptiveConcurrency.probeInterval"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			var keys []string
			for _, fe := range problems(err) {
				keys = append(keys, fe.Key)
				if fe.Msg == "" {
					t.Errorf("empty message for %s", fe.Key)
				}
			}
			if !reflect.DeepEqual(keys, tc.keys) {
				t.Fatalf("keys %q, want %q (error: %v)", keys, tc.keys, err)
			}
			_, nerr := New(tc.cfg)
			if (nerr == nil) != (tc.keys == nil) {
				t.Fatalf("New error %v, Validate error %v", nerr, err)
			}
			var first *fielderr.Error
			if nerr != nil && (!strings.HasPrefix(nerr.Error(), "limit: ") || !errors.As(nerr, &first) || *first != *problems(err)[0]) {
				t.Fatalf("New error %q does not wrap Validate's", nerr)
			}
		})
	}
}

// problems returns the problems listed in err, or nil when err is nil.
func problems(err error) fielderr.List {
	var es fielderr.List
	errors.As(err, &es)
	return es
}

func TestValidateMessage(t *testing.T) {
	err := Config{MaxConcurrent: -3}.Validate()
	want := "maxConcurrent: must be between 0 (unlimited) and 16777216, got -3"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	err = Config{RateLimit: &RateLimit{Total: &Bucket{RPS: -1}}}.Validate()
	want = "rateLimit.total.rps: must be greater than 0 and at most 1e+09 requests per second, got -1"
	var fe *fielderr.Error
	if err == nil || err.Error() != want || !errors.As(err, &fe) || fe.Key != "rateLimit.total.rps" {
		t.Fatalf("got %v (first problem %+v), want %q", err, fe, want)
	}
}

func TestAdaptiveDefaults(t *testing.T) {
	got := AdaptiveConfig{}.withDefaults()
	if got != DefaultAdaptiveConfig() {
		t.Fatalf("zero config means %+v, DefaultAdaptiveConfig says %+v", got, DefaultAdaptiveConfig())
	}
}
