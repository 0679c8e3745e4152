package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseProcessStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "4242 (weird) name (x)) S 1 4242 4242 0 -1 4194560 2000 0 0 0 123 45 6 7 20 0 9 0 100 2000000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	got, err := parseProcessStat([]byte(stat))
	if err != nil || got != 168 {
		t.Errorf("parseProcessStat = %d, %v; want 123+45 = 168", got, err)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2 3", "1 (x) S 1 2 3 4 5 6 7 8 9 10 utime 45 1"} {
		if _, err := parseProcessStat([]byte(bad)); err == nil {
			t.Errorf("parseProcessStat(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseProcessStatOfItself(t *testing.T) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if _, err := parseProcessStat(data); err != nil {
		t.Errorf("own stat %q: %v", data, err)
	}
	data, err = os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseMachineStat(data); err != nil {
		t.Errorf("/proc/stat: %v", err)
	}
}

func TestParseMachineStat(t *testing.T) {
	got, err := parseMachineStat([]byte("cpu  100 2 30 5000 7 4 5 9 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"))
	if err != nil || got != (machineTicks{busy: 100 + 2 + 30 + 4 + 5, steal: 9}) {
		t.Errorf("parseMachineStat = %+v, %v; want busy 141, steal 9", got, err)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3", "cpu 1 2 x 4 5 6 7 8"} {
		if _, err := parseMachineStat([]byte(bad)); err == nil {
			t.Errorf("parseMachineStat(%q) succeeded, want an error", bad)
		}
	}
}

func TestCPUMeterSince(t *testing.T) {
	m := &cpuMeter{procs: []process{{Role: "client", PID: 1}, {Role: "server", PID: 2}}}
	before := cpuSample{procs: []uint64{100, 50}, machine: machineTicks{busy: 1000, steal: 3}}
	after := cpuSample{procs: []uint64{300, 40}, machine: machineTicks{busy: 1500, steal: 5}}
	procs, mc := m.since(before, after)
	if procs[0].Seconds != 2 || procs[1].Seconds != 0 {
		t.Errorf("processes %+v, want client 2 s and server 0 (its counter went back: a reused PID)", procs)
	}
	if mc != (machineCPU{BusySeconds: 5, OtherSeconds: 3, StealSeconds: 0.02}) {
		t.Errorf("machine %+v, want busy 5 s, others 3 s, steal 0.02 s", mc)
	}
}

func FuzzParseProcessStat(f *testing.F) {
	f.Add([]byte("1 (a b) S 1 1 1 0 -1 0 0 0 0 0 10 20 0 0\n"))
	f.Add([]byte("1 ()) S"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := parseProcessStat(data)
		if err != nil && n != 0 {
			t.Errorf("%d with error %v", n, err)
		}
		if err == nil && !strings.Contains(string(data), ")") {
			t.Errorf("parsed %q, which has no command name", data)
		}
	})
}
