package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	var opts options
	flag.DurationVar(&opts.Duration, "duration", 0, "stop after this long; 0 runs until interrupted")
	flag.IntVar(&opts.Rate, "rate", defaultRate, "requests per second sent to frontend")
	flag.StringVar(&opts.PolicyFile, "policy", "", "policy file to load and watch instead of the embedded mesh.yaml")
	flag.StringVar(&opts.AdminAddr, "admin", "127.0.0.1:9901", `admin endpoint of the loadgen node; "" for none`)
	verbose := flag.Bool("v", false, "show the nodes' logs at Info level")
	debug := flag.Bool("vv", false, "show the nodes' logs at Debug level")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "quickstart: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}

	opts.Logs, opts.LogLevel = os.Stderr, slog.LevelWarn
	switch {
	case *debug:
		opts.LogLevel = slog.LevelDebug
	case *verbose:
		opts.LogLevel = slog.LevelInfo
	}
	opts.Redraw = isTerminal(os.Stdout)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one kills the process at once
	// instead of waiting for the graceful shutdown.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, opts, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "quickstart: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// isTerminal reports whether f is a terminal rather than a file or pipe.
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
