package retry_test

import (
	"errors"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience/retry"
)

func TestEncodeTimeout(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{-time.Second, "0"},
		{0, "0"},
		{time.Nanosecond, "1"},
		{time.Millisecond, "1"},
		{time.Millisecond + 1, "2"},
		{1500 * time.Millisecond, "1500"},
		{retry.MaxTimeout, "99999999"},
		{retry.MaxTimeout + time.Hour, "99999999"},
		{1<<63 - 1, "99999999"},
	}
	for _, tt := range tests {
		if got := retry.EncodeTimeout(tt.in); got != tt.want {
			t.Errorf("EncodeTimeout(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseTimeout(t *testing.T) {
	good := map[string]time.Duration{
		"0":        0,
		"1":        time.Millisecond,
		"1500":     1500 * time.Millisecond,
		"00042":    42 * time.Millisecond,
		"99999999": retry.MaxTimeout,
	}
	for in, want := range good {
		got, err := retry.ParseTimeout(in)
		if err != nil || got != want {
			t.Errorf("ParseTimeout(%q) = %v, %v; want %v, nil", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1.5", "10ms", " 10", "10 ", "123456789", "0x10", "１"} {
		got, err := retry.ParseTimeout(in)
		if !errors.Is(err, retry.ErrBadTimeout) {
			t.Errorf("ParseTimeout(%q) = %v, %v; want an error wrapping ErrBadTimeout", in, got, err)
		}
	}
}

func TestTimeoutRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, time.Millisecond, 2 * time.Second, time.Hour, retry.MaxTimeout} {
		got, err := retry.ParseTimeout(retry.EncodeTimeout(d))
		if err != nil || got != d {
			t.Errorf("ParseTimeout(EncodeTimeout(%v)) = %v, %v", d, got, err)
		}
	}
}
