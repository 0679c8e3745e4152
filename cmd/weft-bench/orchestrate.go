package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/weftmesh/weft/internal/proctest"
)

// settings is what a run measures, and how.
type settings struct {
	Modes       []string `json:"modes"`
	Reps        int      `json:"reps"`
	Warmup      string   `json:"warmup"`
	Duration    string   `json:"duration"` // of each measured phase
	Concurrency int      `json:"concurrency"`
	// Rates are the open-loop rates, requests per second.
	Rates []float64 `json:"rates"`
	// Tracing says where the traced mode's spans go.
	Tracing string `json:"tracing"`

	warmup, duration time.Duration
	otlp             string
	haproxy          string // the binary, when a mode needs it
}

// modeRun is one mode measured once.
type modeRun struct {
	Rep    int     `json:"rep"`
	Mode   string  `json:"mode"`
	Path   string  `json:"path,omitempty"` // what the first request went through
	Closed *phase  `json:"closed,omitempty"`
	Open   []phase `json:"open,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// bench runs the modes' processes.
type bench struct {
	s        settings
	modes    []mode
	dir      workdir
	exe      string    // this program, started again as each side
	progress io.Writer // one line per run
}

// runAll measures every mode once per rep, the modes interleaved: rep 1
// of every mode, then rep 2, so that a change in the machine's load
// touches every mode alike. A run that fails is recorded with its error
// and the others go on.
func (b *bench) runAll(ctx context.Context) []modeRun {
	var runs []modeRun
	for rep := 1; rep <= b.s.Reps; rep++ {
		for _, m := range b.modes {
			if ctx.Err() != nil {
				return runs
			}
			r := modeRun{Rep: rep, Mode: m.name}
			res, err := b.runMode(ctx, m, rep)
			if err != nil {
				r.Error = err.Error()
				fmt.Fprintf(b.progress, "rep %d/%d %-16s FAILED: %v\n", rep, b.s.Reps, m.name, err)
			} else {
				r.Path, r.Closed, r.Open = res.Path, &res.Closed, res.Open
				fmt.Fprintf(b.progress, "rep %d/%d %-16s %s\n", rep, b.s.Reps, m.name, progressLine(res))
			}
			runs = append(runs, r)
		}
	}
	return runs
}

func progressLine(res *clientResult) string {
	s := fmt.Sprintf("%8.0f req/s %6.1f µs CPU/req", res.Closed.Throughput, res.Closed.CPUPerRequestUS)
	for _, p := range res.Open {
		s += fmt.Sprintf(" | %g/s: p50 %.3f p99 %.3f p999 %.3f ms, %.3f vCPU", p.TargetRate, p.Latency.P50, p.Latency.P99, p.Latency.P999, p.VCPU)
	}
	return s
}

// runMode starts the processes of one mode (server, sidecars, client),
// lets the client measure, and stops them all.
func (b *bench) runMode(ctx context.Context, m mode, rep int) (*clientResult, error) {
	name := fmt.Sprintf("rep%d-%s", rep, m.name)
	readyFile := b.dir.path(name + "-server.json")
	srv, err := b.startSide("server", m, name, "-out", readyFile)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	var ready serverReady
	if err := awaitFile(ctx, srv, readyFile, 60*time.Second, &ready); err != nil {
		return nil, err
	}
	t := target{Addr: ready.Addr, Gossip: ready.Gossip}
	others := []process{{Role: "server", PID: srv.Pid()}}
	if m.sidecars {
		addr, procs, err := startSidecars(ctx, b.s.haproxy, b.dir, name, ready.Addr)
		for _, p := range procs {
			defer p.Stop()
		}
		if err != nil {
			return nil, err
		}
		t.Addr = addr
		others = append(others, process{Role: "haproxy-b", PID: procs[0].Pid()}, process{Role: "haproxy-a", PID: procs[1].Pid()})
	}

	resultFile := b.dir.path(name + "-client.json")
	cl, err := b.startSide("client", m, name,
		"-out", resultFile, "-target", t.Addr, "-gossip", t.Gossip, "-pids", formatPIDs(others),
		"-warmup", b.s.warmup.String(), "-duration", b.s.duration.String(),
		"-concurrency", strconv.Itoa(b.s.Concurrency), "-rates", formatRates(b.s.Rates))
	if err != nil {
		return nil, err
	}
	defer cl.Stop()
	limit := b.s.warmup + time.Duration(1+len(b.s.Rates))*b.s.duration + 2*time.Minute
	select {
	case <-cl.Done():
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(limit):
		return nil, cl.Failure(fmt.Errorf("no result after %v", limit))
	}
	var res clientResult
	if err := readJSON(resultFile, &res); err != nil {
		return nil, cl.Failure(errors.New("ended without a result"))
	}
	if srv.Exited() {
		return nil, srv.Failure(errors.New("exited during the run"))
	}
	return &res, nil
}

// startSide starts this program as one side of mode m.
func (b *bench) startSide(role string, m mode, name string, args ...string) (*proctest.Process, error) {
	args = append([]string{roleFlag, role, "-mode", m.name, "-dir", string(b.dir)}, args...)
	if b.s.otlp != "" {
		args = append(args, "-otlp")
	}
	return proctest.Start(proctest.Config{Name: name + "-" + role, Bin: b.exe, Args: args, LogPath: b.dir.logPath(name + "-" + role)})
}

// awaitFile waits for the JSON file a side writes, failing early if the
// side exits first.
func awaitFile(ctx context.Context, p *proctest.Process, path string, limit time.Duration, v any) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := readJSON(path, v)
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return p.Failure(err)
		}
		select {
		case <-p.Done():
			return p.Failure(errors.New("exited before it was ready"))
		case <-ctx.Done():
			return p.Failure(fmt.Errorf("not ready: %w", ctx.Err()))
		case <-tick.C:
		}
	}
}

func formatPIDs(ps []process) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Role + "=" + strconv.Itoa(p.PID)
	}
	return strings.Join(parts, ",")
}

func formatRates(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.FormatFloat(r, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}
