package discovery

import (
	"strings"
	"testing"
	"time"
)

func TestTimingPresets(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want Timing
	}{
		{"loopback gets local", Config{BindAddr: "127.0.0.1:0"}, DefaultLocalTiming()},
		{"other addresses get lan", Config{BindAddr: "10.0.0.1:0"}, DefaultLANTiming()},
		{"a preset wins over the address", Config{BindAddr: "127.0.0.1:0", Timing: Timing{Preset: PresetWAN}}, DefaultWANTiming()},
		{"overrides keep the rest of the preset", Config{BindAddr: "10.0.0.1:0", Timing: Timing{GossipInterval: time.Second, ReconnectInterval: 5 * time.Second}},
			func() Timing {
				w := DefaultLANTiming()
				w.GossipInterval, w.ReconnectInterval = time.Second, 5*time.Second
				return w
			}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.MeshName, tc.cfg.Local = "m", Instance{Service: "a"}
			s, err := tc.cfg.check()
			if err != nil {
				t.Fatal(err)
			}
			if s.Timing != tc.want {
				t.Errorf("timing = %+v, want %+v", s.Timing, tc.want)
			}
		})
	}
	for _, name := range []string{PresetLocal, PresetLAN, PresetWAN} {
		tm, err := presetTiming(name)
		if err != nil || tm.Preset != name {
			t.Fatalf("preset %q: %+v, %v", name, tm, err)
		}
		if err := tm.Validate(); err != nil {
			t.Errorf("preset %q does not validate: %v", name, err)
		}
		if tm.ProbeTimeout >= tm.ProbeInterval || tm.ReconnectInterval <= 0 || tm.ReconnectTimeout <= 0 {
			t.Errorf("preset %q: %+v", name, tm)
		}
	}
}

func TestTimingOver(t *testing.T) {
	base := Timing{Preset: PresetWAN, ProbeInterval: 2 * time.Second, SuspicionMult: 9}
	got := Timing{ProbeInterval: 3 * time.Second}.Over(base)
	want := Timing{Preset: PresetWAN, ProbeInterval: 3 * time.Second, SuspicionMult: 9}
	if got != want {
		t.Errorf("Over = %+v, want %+v", got, want)
	}
	if got := (Timing{Preset: PresetLocal}).Over(base); got.Preset != PresetLocal || got.SuspicionMult != 9 {
		t.Errorf("Over kept preset %q, suspicionMult %d", got.Preset, got.SuspicionMult)
	}
}

func TestTimingRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		tm   Timing
		want string
	}{
		{Timing{Preset: "fast"}, `preset: "fast" is not a preset: want "local", "lan" or "wan"`},
		{Timing{ProbeInterval: -time.Second}, "probeInterval: -1s is negative"},
		{Timing{SuspicionMult: -1}, "suspicionMult: -1: want 1 or more"},
		{Timing{Preset: PresetLAN, ProbeTimeout: 2 * time.Second}, "probeTimeout: probeTimeout 2s must be less than probeInterval 1s"},
		{Timing{Preset: PresetLAN, ProbeInterval: 100 * time.Millisecond}, "probeInterval: probeTimeout 500ms must be less than probeInterval 100ms"},
	} {
		err := tc.tm.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.tm, err, tc.want)
		}
		cfg := Config{MeshName: "m", BindAddr: "10.0.0.1:0", Timing: tc.tm, Local: Instance{Service: "a"}}
		if _, err := cfg.check(); err == nil || !strings.Contains(err.Error(), "Timing: ") {
			t.Errorf("%+v: check = %v, want a Timing error", tc.tm, err)
		}
	}
	if err := (Timing{ProbeTimeout: 2 * time.Second}).Validate(); err != nil {
		t.Errorf("a lone probeTimeout is checked only once the preset is known: %v", err)
	}
}
