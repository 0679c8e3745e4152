package retry_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/weftmesh/weft/resilience/retry"
)

func TestDelayBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	backoffs := []retry.Backoff{
		{},
		{Base: time.Millisecond, Max: time.Second},
		{Base: 100 * time.Millisecond, Max: 100 * time.Millisecond},
		{Base: time.Nanosecond, Max: retry.MaxBackoff},
		{Base: -time.Millisecond, Max: time.Second}, // invalid, yet bounded
	}
	for _, b := range backoffs {
		max := b.Max
		if max == 0 {
			max = retry.DefaultBackoffMax
		}
		for retryN := -1; retryN <= 80; retryN++ {
			for range 50 {
				d := b.Delay(retryN, rng.Float64)
				if d < 0 || d >= max {
					t.Fatalf("%+v.Delay(%d) = %v, want in [0, %v)", b, retryN, d, max)
				}
			}
		}
	}
}

func TestDelayCeilingDoubles(t *testing.T) {
	b := retry.Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	// With rnd just below 1 the delay is just below the ceiling.
	nearOne := constant(math.Nextafter(1, 0))
	want := []time.Duration{10, 20, 40, 80, 100, 100, 100}
	for i, w := range want {
		w *= time.Millisecond
		got := b.Delay(i+1, nearOne)
		if got >= w || got < w-time.Microsecond {
			t.Errorf("Delay(%d) with rnd≈1 = %v, want just below %v", i+1, got, w)
		}
	}
	if got := b.Delay(0, nearOne); got >= 10*time.Millisecond {
		t.Errorf("Delay(0) = %v, want below the first ceiling 10ms", got)
	}
	if got := b.Delay(1<<62, nearOne); got >= b.Max || got < b.Max-time.Microsecond {
		t.Errorf("Delay(huge) = %v, want just below Max", got)
	}
}

func TestDelayClampsRnd(t *testing.T) {
	b := retry.Backoff{Base: 10 * time.Millisecond, Max: 40 * time.Millisecond}
	for _, f := range []float64{-1, 0, math.NaN(), math.Inf(-1)} {
		if got := b.Delay(3, constant(f)); got != 0 {
			t.Errorf("Delay with rnd=%v = %v, want 0", f, got)
		}
	}
	for _, f := range []float64{1, 2, math.Inf(1)} {
		if got := b.Delay(3, constant(f)); got != 40*time.Millisecond-1 {
			t.Errorf("Delay with rnd=%v = %v, want 40ms-1ns", f, got)
		}
	}
	if got := b.Delay(3, nil); got < 0 || got >= 40*time.Millisecond {
		t.Errorf("Delay with nil rnd = %v, want in [0, 40ms)", got)
	}
}

// TestDelayJitterIsUniform checks that full jitter spreads delays evenly
// over [0, ceiling): each tenth of the range gets close to a tenth of the
// draws, and the mean is close to half the ceiling.
func TestDelayJitterIsUniform(t *testing.T) {
	const draws = 100_000
	b := retry.Backoff{Base: 25 * time.Millisecond, Max: 250 * time.Millisecond}
	rng := rand.New(rand.NewPCG(7, 11))
	ceiling := 100 * time.Millisecond // retry 3: 25ms × 4
	var buckets [10]int
	var sum float64
	for range draws {
		d := b.Delay(3, rng.Float64)
		buckets[int(d*10/ceiling)]++
		sum += float64(d)
	}
	// Chi-square with 9 degrees of freedom; 27.9 is the 0.999 quantile.
	var chi2 float64
	expected := float64(draws) / 10
	for _, n := range buckets {
		chi2 += (float64(n) - expected) * (float64(n) - expected) / expected
	}
	if chi2 > 27.9 {
		t.Errorf("delays are not uniform: buckets %v, chi² = %.1f", buckets, chi2)
	}
	mean := time.Duration(sum / draws)
	if mean < 49*time.Millisecond || mean > 51*time.Millisecond {
		t.Errorf("mean delay = %v, want about 50ms", mean)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"0", 0, true},
		{"1", time.Second, true},
		{"120", 2 * time.Minute, true},
		{" 3\t", 3 * time.Second, true},
		{"007", 7 * time.Second, true},
		{"99999999999999999999999", time.Duration(math.MaxInt64/int64(time.Second)) * time.Second, true},
		{"Sat, 01 Mar 2025 12:00:30 GMT", 30 * time.Second, true}, // IMF-fixdate
		{"Saturday, 01-Mar-25 12:01:00 GMT", time.Minute, true},   // RFC 850
		{"Sat Mar  1 12:00:05 2025", 5 * time.Second, true},       // asctime
		{"Fri, 28 Feb 2025 12:00:00 GMT", 0, true},                // in the past
		{"", 0, false},
		{"  ", 0, false},
		{"-1", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"5s", 0, false},
		{"1 2", 0, false},
		{"soon", 0, false},
		{"Sat, 01 Mar 2025 12:00:30", 0, false},
	}
	for _, tt := range tests {
		got, ok := retry.ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestPause(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	b := retry.Backoff{Base: 10 * time.Millisecond, Max: 250 * time.Millisecond}
	half := constant(0.5)
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
		wantOK     bool
	}{
		{"no header: jittered backoff", "", 5 * time.Millisecond, true},
		{"malformed header: backoff", "later", 5 * time.Millisecond, true},
		{"zero seconds honoured", "0", 0, true},
		{"one second honoured (within 4×max)", "1", time.Second, true},
		{"two seconds: longer than 4×max, do not retry", "2", 2 * time.Second, false},
		{"date within the limit", "Sat, 01 Mar 2025 12:00:01 GMT", time.Second, true},
		{"date beyond the limit", "Sat, 01 Mar 2025 13:00:00 GMT", time.Hour, false},
	}
	for _, tt := range tests {
		got, ok := b.Pause(1, tt.retryAfter, now, half)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: Pause(1, %q) = %v, %v; want %v, %v", tt.name, tt.retryAfter, got, ok, tt.want, tt.wantOK)
		}
	}
}
