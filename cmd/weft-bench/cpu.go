package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// userHZ is the unit of the CPU times in /proc: the kernel reports them in
// USER_HZ ticks, which Linux fixes at 100 per second for every
// architecture Go runs on.
const userHZ = 100

// process is one OS process a mode runs, named by its role in the mode
// ("client", "server", "haproxy-a", ...).
type process struct {
	Role string `json:"role"`
	PID  int    `json:"pid"`
}

// cpuMeter reads the CPU time of a mode's processes and of the whole
// machine.
type cpuMeter struct {
	procs []process
}

// cpuSample is one reading of a cpuMeter, in ticks.
type cpuSample struct {
	procs   []uint64 // user+system time of each process, in cpuMeter.procs order
	machine machineTicks
}

// machineTicks is the machine-wide "cpu" line of /proc/stat.
type machineTicks struct {
	busy  uint64 // user, nice, system, irq, softirq
	steal uint64 // wanted to run, but the hypervisor ran someone else
}

// processCPU is the CPU time one process used during a phase.
type processCPU struct {
	process
	Seconds float64 `json:"cpu_seconds"`
}

// machineCPU is what the whole machine did during a phase: busy time
// outside the mode's own processes shows how loaded it was by others.
type machineCPU struct {
	BusySeconds  float64 `json:"busy_cpu_seconds"`
	OtherSeconds float64 `json:"other_cpu_seconds"` // busy, less the mode's processes
	StealSeconds float64 `json:"steal_cpu_seconds"`
}

func (m *cpuMeter) sample() (cpuSample, error) {
	s := cpuSample{procs: make([]uint64, len(m.procs))}
	for i, p := range m.procs {
		path := "/proc/" + strconv.Itoa(p.PID) + "/stat"
		if p.PID == os.Getpid() {
			path = "/proc/self/stat"
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return s, fmt.Errorf("cpu time of %s: %w", p.Role, err)
		}
		if s.procs[i], err = parseProcessStat(data); err != nil {
			return s, fmt.Errorf("cpu time of %s: %s: %w", p.Role, path, err)
		}
	}
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, fmt.Errorf("machine cpu time: %w", err)
	}
	if s.machine, err = parseMachineStat(data); err != nil {
		return s, fmt.Errorf("machine cpu time: /proc/stat: %w", err)
	}
	return s, nil
}

// since returns the CPU time each process and the machine used from prev
// to s.
func (m *cpuMeter) since(prev, s cpuSample) ([]processCPU, machineCPU) {
	out := make([]processCPU, len(m.procs))
	var ours uint64
	for i, p := range m.procs {
		d := diff(s.procs[i], prev.procs[i])
		ours += d
		out[i] = processCPU{process: p, Seconds: ticks(d)}
	}
	busy := diff(s.machine.busy, prev.machine.busy)
	mc := machineCPU{BusySeconds: ticks(busy), StealSeconds: ticks(diff(s.machine.steal, prev.machine.steal))}
	if busy > ours {
		mc.OtherSeconds = ticks(busy - ours)
	}
	return out, mc
}

func ticks(n uint64) float64 { return float64(n) / userHZ }

// diff is b-a for counters that only grow; 0 if a counter went back (a
// process that exited and whose PID was reused).
func diff(b, a uint64) uint64 {
	if b < a {
		return 0
	}
	return b - a
}

// parseProcessStat returns utime+stime, in ticks, from the contents of
// /proc/PID/stat: "pid (comm) state ppid ... utime stime ...", where comm
// may itself hold spaces and parentheses.
func parseProcessStat(data []byte) (uint64, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, errors.New("no closing parenthesis after the command name")
	}
	// Fields after the command name, counted from 0: field 3 of proc(5)
	// (state) is 0, so utime (14) is 11 and stime (15) is 12.
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(fields))
	}
	var sum uint64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time %q: %w", f, err)
		}
		sum += n
	}
	return sum, nil
}

// parseMachineStat reads the first line of /proc/stat:
// "cpu user nice system idle iowait irq softirq steal guest guest_nice".
// Guest time is already part of user time.
func parseMachineStat(data []byte) (machineTicks, error) {
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	fields := strings.Fields(string(line))
	if len(fields) < 9 || fields[0] != "cpu" {
		return machineTicks{}, fmt.Errorf("first line %q is not the machine's cpu line", line)
	}
	var v [8]uint64
	for i := range v {
		n, err := strconv.ParseUint(fields[i+1], 10, 64)
		if err != nil {
			return machineTicks{}, fmt.Errorf("cpu field %d %q: %w", i+1, fields[i+1], err)
		}
		v[i] = n
	}
	return machineTicks{busy: v[0] + v[1] + v[2] + v[5] + v[6], steal: v[7]}, nil
}
