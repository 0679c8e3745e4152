package outlier

import (
	"errors"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
)

func TestDefaultConfig(t *testing.T) {
	want := Config{ConsecutiveErrors: 5, EjectFor: 30 * time.Second, MaxEjectedPercent: 50, MaxEjectFor: 300 * time.Second}
	if got := DefaultConfig(); got != want {
		t.Fatalf("DefaultConfig() = %+v, want %+v", got, want)
	}
	if got := (Config{EjectFor: 10 * time.Minute}).WithDefaults().MaxEjectFor; got != 10*time.Minute {
		t.Fatalf("MaxEjectFor under a long EjectFor = %s, want 10m", got)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		keys []string
	}{
		{"zero", Config{}, nil},
		{"full", Config{ConsecutiveErrors: 3, EjectFor: time.Second, MaxEjectedPercent: 100, MaxEjectFor: time.Second}, nil},
		{"long ejectFor", Config{EjectFor: time.Hour}, nil},
		{"negative", Config{ConsecutiveErrors: -1, EjectFor: -1, MaxEjectedPercent: -1, MaxEjectFor: -1}, []string{
			"outlierDetection.consecutiveErrors", "outlierDetection.ejectFor",
			"outlierDetection.maxEjectedPercent", "outlierDetection.maxEjectFor"}},
		{"percent", Config{MaxEjectedPercent: 101}, []string{"outlierDetection.maxEjectedPercent"}},
		{"cap below base", Config{EjectFor: time.Minute, MaxEjectFor: time.Second}, []string{"outlierDetection.maxEjectFor"}},
		{"cap below default base", Config{MaxEjectFor: time.Second}, []string{"outlierDetection.maxEjectFor"}},
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
					got = append(got, fe.Key)
				}
			}
			if len(got) != len(tt.keys) {
				t.Fatalf("keys = %v, want %v (%v)", got, tt.keys, err)
			}
			for i := range got {
				if got[i] != tt.keys[i] {
					t.Fatalf("keys = %v, want %v", got, tt.keys)
				}
			}
		})
	}
	err := Config{EjectFor: time.Minute, MaxEjectFor: time.Second}.Validate()
	if want := "outlierDetection.maxEjectFor: must be at least ejectFor (1m0s)"; err == nil || err.Error() != want {
		t.Fatalf("message = %v, want %q", err, want)
	}
}

func TestFromStatus(t *testing.T) {
	for code, want := range map[int]Outcome{
		200: Success, 404: Success, 429: Success, 499: Success,
		500: ServerError, 501: ServerError, 599: ServerError,
		502: GatewayError, 503: GatewayError, 504: GatewayError,
		600: Success, 0: Success,
	} {
		if got := FromStatus(code); got != want {
			t.Errorf("FromStatus(%d) = %v, want %v", code, got, want)
		}
	}
	for o, want := range map[Outcome]string{Success: "success", ServerError: "server error", GatewayError: "gateway error", ConnectFailure: "connect failure", 9: "Outcome(9)"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", uint8(o), o.String(), want)
		}
	}
}
