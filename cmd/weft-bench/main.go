package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if role, args, ok := sideRole(os.Args[1:]); ok {
		os.Exit(runRole(role, args))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // a run failed; what succeeded is still written
	exitUsage   = 2
)

// Files written to -out.
const (
	jsonFile     = "comparison.json"
	chartFile    = "comparison.svg"
	markdownFile = "comparison.md"
)

// options are the command line, parsed.
type options struct {
	settings
	modes []mode
	out   string
	doc   string
	note  string
	keep  bool
	from  string
	args  []string
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("weft-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: weft-bench [flags]\n\nMeasures one request over loopback through Weft and the alternatives; see go doc ./cmd/weft-bench.\n\n")
		fs.PrintDefaults()
	}
	o := &options{args: args}
	fs.StringVar(&o.out, "out", filepath.Join("docs", "bench"), "directory to write "+jsonFile+", "+chartFile+" and "+markdownFile+" to")
	fs.StringVar(&o.doc, "doc", "", "markdown file whose "+docBegin+" section is rewritten with the results, e.g. docs/BENCHMARKS.md")
	modeList := fs.String("modes", "all", "modes to run, separated by commas: "+modeNames(modes))
	fs.IntVar(&o.Reps, "reps", 5, "times each mode is measured; the modes take turns")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "closed-loop load before each mode's measurements, not measured")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured phase")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "callers of the closed loop")
	rates := fs.String("rates", "1000", "open-loop rates in requests per second, separated by commas")
	fs.StringVar(&o.otlp, "otlp", "", "OTLP/gRPC collector `host:port` the traced mode exports to; if empty, spans go to an in-process exporter that drops them")
	fs.StringVar(&o.haproxy, "haproxy", "", "HAProxy `binary`; if empty, $"+envHAProxy+", else haproxy on the PATH")
	fs.StringVar(&o.note, "note", "", "what to say of the machine with the results, e.g. \"shared, busy\"")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (certificates, configurations, each process's log) and print its path")
	fs.StringVar(&o.from, "from", "", "measure nothing: write the chart and tables again from the `"+jsonFile+"` of an earlier run")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.modes, err = selectModes(*modeList); err != nil {
		return nil, err
	}
	if o.Rates, err = parseRates(*rates); err != nil {
		return nil, err
	}
	switch {
	case o.Reps < 1:
		return nil, fmt.Errorf("-reps %d: want at least 1", o.Reps)
	case o.warmup < 0 || o.duration <= 0:
		return nil, errors.New("-warmup and -duration: want positive durations")
	case o.Concurrency < 1:
		return nil, fmt.Errorf("-concurrency %d: want at least 1", o.Concurrency)
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "weft-bench: %v\n", err)
		return exitUsage
	}
	if o.from != "" {
		var rep report
		if err := readJSON(o.from, &rep); err != nil {
			fmt.Fprintf(stderr, "weft-bench: -from: %v\n", err)
			return exitFailure
		}
		return o.write(&rep, stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "weft-bench: %v\n", err)
		return exitFailure
	}
	rep, dir, err := runBench(ctx, o, exe, stderr)
	if dir != "" && (o.keep || err != nil || rep.failed()) {
		fmt.Fprintf(stderr, "weft-bench: logs and configurations are in %s\n", dir)
	} else if dir != "" {
		os.RemoveAll(dir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "weft-bench: %v\n", err)
		return exitFailure
	}
	return o.write(rep, stdout, stderr)
}

// write writes rep's outputs where o says and prints its tables; the exit
// code says whether every run succeeded.
func (o *options) write(rep *report, stdout, stderr io.Writer) int {
	if err := writeOutputs(rep, o.out, o.doc); err != nil {
		fmt.Fprintf(stderr, "weft-bench: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s\nwritten to %s\n", rep.markdown(chartFile), o.out)
	if rep.failed() {
		return exitFailure
	}
	return exitOK
}

// runBench prepares a work directory and measures every mode o names,
// starting exe as each side. It returns the work directory too, which the
// caller removes.
func runBench(ctx context.Context, o *options, exe string, progress io.Writer) (*report, string, error) {
	rep := &report{Command: commandLine(o.args), Started: time.Now(), Machine: readMachine(o.note)}
	for _, m := range o.modes {
		o.Modes = append(o.Modes, m.name)
		if m.sidecars && o.haproxy == "" {
			bin, err := findHAProxy(o.haproxy)
			if err != nil {
				return nil, "", err
			}
			o.haproxy = bin
		}
	}
	if o.haproxy != "" {
		v, err := haproxyVersion(o.haproxy)
		if err != nil {
			return nil, "", err
		}
		rep.Machine.HAProxy = v
	}
	o.Warmup, o.Duration = o.warmup.String(), o.duration.String()
	o.Tracing = "every trace recorded (parent-based, always on) by an in-process exporter that drops the spans"
	if o.otlp != "" {
		o.Tracing = "every trace recorded and exported over OTLP/gRPC to " + o.otlp
	}

	dir, err := os.MkdirTemp("", "weft-bench-")
	if err != nil {
		return nil, "", err
	}
	w := workdir(dir)
	if err := w.prepare(o.otlp); err != nil {
		return nil, dir, err
	}
	b := &bench{s: o.settings, modes: o.modes, dir: w, exe: exe, progress: progress}
	rep.Runs = b.runAll(ctx)
	if err := ctx.Err(); err != nil {
		return nil, dir, err
	}
	rep.Finished = time.Now()
	rep.Machine.LoadAfter = loadAverage()
	rep.Settings = o.settings
	rep.Summary = summarise(o.modes, o.settings, rep.Runs)
	return rep, dir, nil
}

func (r *report) failed() bool {
	if r == nil {
		return false
	}
	for _, x := range r.Runs {
		if x.Error != "" {
			return true
		}
	}
	return false
}

// writeOutputs writes the JSON, the chart and the tables to dir, and the
// tables into doc's section if doc is set.
func writeOutputs(r *report, dir, doc string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := r.writeJSON(filepath.Join(dir, jsonFile)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, chartFile), svgChart(r), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, markdownFile), []byte(r.markdown(chartFile)), 0o644); err != nil {
		return err
	}
	if doc == "" {
		return nil
	}
	chart, err := filepath.Rel(filepath.Dir(doc), filepath.Join(dir, chartFile))
	if err != nil {
		return err
	}
	text, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	updated, err := replaceSection(string(text), r.markdown(filepath.ToSlash(chart)))
	if err != nil {
		return fmt.Errorf("%s: %w", doc, err)
	}
	return os.WriteFile(doc, []byte(updated), 0o644)
}

// commandLine is how to repeat the run from the repository's root.
func commandLine(args []string) string {
	parts := []string{"go run ./cmd/weft-bench"}
	for _, a := range args {
		if strings.ContainsAny(a, " \"'$") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
