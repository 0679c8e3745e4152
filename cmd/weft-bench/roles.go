package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// roleFlag, as the first argument followed by "server" or "client",
// starts the command as one side of a mode. Every mode runs its sides in
// processes of their own, so that the CPU time of each can be read from
// /proc. It is not a flag of the command's own flag set: the sides take
// other flags, and users never start them.
const roleFlag = "-weft-bench-role"

// sideRole returns the role and the side's arguments if args start a
// side.
func sideRole(args []string) (role string, rest []string, ok bool) {
	if len(args) < 2 || args[0] != roleFlag {
		return "", nil, false
	}
	return args[1], args[2:], true
}

// childEnv is what both sides of a mode share.
type childEnv struct {
	dir    workdir
	otlp   bool // the traced mode exports to the policy's collector
	logger *slog.Logger
}

// clientSettings is how the client side loads the server.
type clientSettings struct {
	Warmup      time.Duration
	Duration    time.Duration
	Concurrency int
	Rates       []float64
}

// clientResult is what the client side reports, in its -out file.
type clientResult struct {
	Path   string  `json:"path"` // what the first request went through
	Closed phase   `json:"closed"`
	Open   []phase `json:"open"`
}

// runRole runs one side of a mode, with the arguments the orchestrating
// process gave, and returns the exit code. Errors go to stderr, which the
// orchestrating process keeps in the side's log.
func runRole(role string, args []string) int {
	if err := runSide(role, args); err != nil {
		fmt.Fprintf(os.Stderr, "weft-bench %s: %v\n", role, err)
		return 1
	}
	return 0
}

func runSide(role string, args []string) error {
	fs := flag.NewFlagSet("weft-bench "+role, flag.ContinueOnError)
	modeName := fs.String("mode", "", "")
	dir := fs.String("dir", "", "")
	otlp := fs.Bool("otlp", false, "")
	out := fs.String("out", "", "file to write the announcement or the result to")
	addr := fs.String("target", "", "")
	gossip := fs.String("gossip", "", "")
	pids := fs.String("pids", "", "role=pid,... of the mode's other processes")
	var s clientSettings
	fs.DurationVar(&s.Warmup, "warmup", 0, "")
	fs.DurationVar(&s.Duration, "duration", 0, "")
	fs.IntVar(&s.Concurrency, "concurrency", 0, "")
	rates := fs.String("rates", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, ok := lookupMode(*modeName)
	if !ok {
		return fmt.Errorf("unknown mode %q", *modeName)
	}
	env := childEnv{
		dir:    workdir(*dir),
		otlp:   *otlp,
		logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	switch role {
	case "server":
		return m.serve(ctx, env, func(r serverReady) {
			if err := writeJSON(*out, r); err != nil {
				env.logger.Error("weft-bench: announce", "err", err)
				stop()
			}
		})
	case "client":
		var err error
		if s.Rates, err = parseRates(*rates); err != nil {
			return err
		}
		procs, err := parsePIDs(*pids)
		if err != nil {
			return err
		}
		res, err := runClient(ctx, m, env, target{Addr: *addr, Gossip: *gossip}, s, procs)
		if err != nil {
			return err
		}
		return writeJSON(*out, res)
	}
	return fmt.Errorf("unknown role %q", role)
}

// runClient connects the client side and runs the warm-up, the closed
// loop and an open loop per rate, measuring CPU time of this process and
// of procs.
func runClient(ctx context.Context, m mode, env childEnv, t target, s clientSettings, procs []process) (*clientResult, error) {
	ep, err := m.dial(ctx, env, t)
	if err != nil {
		return nil, err
	}
	defer ep.close()
	var res clientResult
	if res.Path, err = ep.describe(ctx); err != nil {
		if res.Path != "" {
			err = fmt.Errorf("%w (it went through: %s)", err, res.Path)
		}
		return nil, fmt.Errorf("first request: %w", err)
	}
	meter := &cpuMeter{procs: append([]process{{Role: "client", PID: os.Getpid()}}, procs...)}
	if _, err := closedLoop(ctx, ep, s.Concurrency, s.Warmup, meter); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	if res.Closed, err = closedLoop(ctx, ep, s.Concurrency, s.Duration, meter); err != nil {
		return nil, err
	}
	for _, r := range s.Rates {
		p, err := openLoop(ctx, ep, r, s.Duration, s.Concurrency, meter)
		if err != nil {
			return nil, err
		}
		res.Open = append(res.Open, p)
	}
	return &res, nil
}

// parsePIDs reads "server=123,haproxy-a=456".
func parsePIDs(s string) ([]process, error) {
	var out []process
	if s == "" {
		return out, nil
	}
	for kv := range strings.SplitSeq(s, ",") {
		role, pid, ok := strings.Cut(kv, "=")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || n <= 0 {
			return nil, fmt.Errorf("-pids: %q is not role=pid", kv)
		}
		out = append(out, process{Role: role, PID: n})
	}
	return out, nil
}

// parseRates reads the open-loop rates, requests per second separated by
// commas.
func parseRates(s string) ([]float64, error) {
	var out []float64
	if s == "" {
		return out, nil
	}
	for f := range strings.SplitSeq(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 || r > 1e6 {
			return nil, fmt.Errorf("rate %q: want requests per second, more than 0 and at most 1000000", f)
		}
		out = append(out, r)
	}
	return out, nil
}

// writeJSON writes v to path through a rename, so that a reader polling
// for the file never sees a part of it.
func writeJSON(path string, v any) error {
	if path == "" {
		return errors.New("no -out file")
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readJSON reads what writeJSON wrote.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
