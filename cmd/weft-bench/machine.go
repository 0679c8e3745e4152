package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// machine describes where a run took place.
type machine struct {
	CPU      string  `json:"cpu"`
	Cores    int     `json:"cores"`
	MemoryGB float64 `json:"memory_gb"`
	Kernel   string  `json:"kernel"`
	Go       string  `json:"go"`
	HAProxy  string  `json:"haproxy,omitempty"`
	// LoadBefore and LoadAfter are /proc/loadavg's 1, 5 and 15 minute
	// load averages when the run started and ended.
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
	// Note is what the person who ran it said of the machine (-note).
	Note string `json:"note,omitempty"`
}

func readMachine(note string) machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), LoadBefore: loadAverage(), Note: note}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					m.MemoryGB = kb / (1 << 20)
				}
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + string(bytes.TrimSpace(data))
	}
	return m
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func (m machine) String() string {
	s := fmt.Sprintf("%s, %d cores, %.0f GB, %s, %s", m.CPU, m.Cores, m.MemoryGB, m.Kernel, m.Go)
	if m.HAProxy != "" {
		s += ", " + m.HAProxy
	}
	return s
}
