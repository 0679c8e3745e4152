package breaker

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
)

func TestDefaultConfig(t *testing.T) {
	want := Config{
		ConsecutiveFailures: 5,
		MinRequests:         20,
		Window:              10 * time.Second,
		OpenFor:             30 * time.Second,
		HalfOpenRequests:    1,
	}
	if got := DefaultConfig(); got != want {
		t.Fatalf("DefaultConfig() = %+v, want %+v", got, want)
	}
	if err := want.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	custom := Config{ConsecutiveFailures: 2, FailureRatio: 0.25, MinRequests: 3, Window: time.Second, OpenFor: time.Minute, HalfOpenRequests: 4}
	if got := custom.WithDefaults(); got != custom {
		t.Fatalf("WithDefaults changed set fields: %+v", got)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		keys []string
	}{
		{"zero", Config{}, nil},
		{"ratio", Config{FailureRatio: 0.5}, nil},
		{"ratio one", Config{FailureRatio: 1}, []string{"circuitBreaker.failureRatio"}},
		{"ratio negative", Config{FailureRatio: -0.1}, []string{"circuitBreaker.failureRatio"}},
		{"ratio NaN", Config{FailureRatio: math.NaN()}, []string{"circuitBreaker.failureRatio"}},
		{"negative durations", Config{Window: -1, OpenFor: -time.Second}, []string{"circuitBreaker.window", "circuitBreaker.openFor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			var got []string
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					var fe *fielderr.Error
					if !errors.As(e, &fe) {
						t.Fatalf("not a *fielderr.Error: %v", e)
					}
					if fe.Error() != fe.Key+": "+fe.Msg {
						t.Fatalf("Error() = %q", fe.Error())
					}
					got = append(got, fe.Key)
				}
			}
			if len(got) != len(tt.keys) {
				t.Fatalf("keys = %v, want %v", got, tt.keys)
			}
			for i := range got {
				if got[i] != tt.keys[i] {
					t.Fatalf("keys = %v, want %v", got, tt.keys)
				}
			}
		})
	}
}
