package proctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long a program may take to exit after SIGTERM before it
// is killed.
const stopGrace = 5 * time.Second

// tailLines is how many lines of a log [Process.Tail] quotes.
const tailLines = 40

// Config describes the program to start.
type Config struct {
	// Name names the program in errors and log headings, such as
	// "spire-server". If empty, Bin.
	Name string
	// Bin is the path of the binary. Required.
	Bin string
	// Args are the program's arguments, not counting its name.
	Args []string
	// LogPath is the file the program's output is appended to, created if
	// missing. Required.
	LogPath string
	// Output, if not nil, also receives the output as the program writes
	// it. It is written from another goroutine and must be safe for that.
	Output io.Writer
}

// Process is one running program. Its methods are safe for concurrent use.
type Process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // set before done is closed
}

// Start starts the program described by cfg in its own process group. The
// program is not bound to a context: it runs until it exits or Stop ends
// it. A binary that cannot be started is reported with a hint to build
// it with scripts/build-tools.
func Start(cfg Config) (*Process, error) {
	if cfg.Name == "" {
		cfg.Name = cfg.Bin
	}
	f, err := os.OpenFile(cfg.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", cfg.Name, err)
	}
	cmd := exec.Command(cfg.Bin, cfg.Args...) //nolint:gosec // binaries come from the test's own configuration
	var w io.Writer = f
	if cfg.Output != nil {
		w = io.MultiWriter(f, cfg.Output)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = sysProcAttr()
	// Bounds the copy to Output if a grandchild ever kept the pipe open.
	cmd.WaitDelay = stopGrace
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s (%s): %w; run eval \"$(scripts/build-tools)\" to build it", cfg.Name, cfg.Bin, err)
	}
	p := &Process{name: cfg.Name, cmd: cmd, logPath: cfg.LogPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the process's ID, which is also its process group's.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done returns a channel that is closed once the process has exited and
// been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process group, then SIGKILL a few seconds
// later, and returns once the process is reaped. It may be called more
// than once.
func (p *Process) Stop() {
	if p.Exited() {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// Tail returns the last lines of the process's log, for error messages.
func (p *Process) Tail() string { return LogTail(p.logPath, tailLines) }

// Failure wraps err with the program's name, its exit status if it has
// exited, and the end of its log.
func (p *Process) Failure(err error) error {
	state := ""
	if p.Exited() {
		state = fmt.Sprintf(" (exited: %v)", p.waitErr)
	}
	return fmt.Errorf("%s%s: %w\n--- %s log (last lines) ---\n%s", p.name, state, err, p.name, p.Tail())
}

// AwaitReady polls each of urls in turn until it answers 200, and returns
// once the last one has; it fails, through Failure, when the process exits
// or ctx ends first. client makes the requests; if nil, a client without
// keep-alives, whose idle connections would outlive the test, and with a
// one-second timeout.
func (p *Process) AwaitReady(ctx context.Context, client *http.Client, urls ...string) error {
	if client == nil {
		client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
		defer client.CloseIdleConnections()
	}
	var last error = errors.New("no answer yet")
	for len(urls) > 0 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, urls[0], nil)
		if err != nil {
			return p.Failure(err)
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				urls = urls[1:]
				continue
			}
			last = fmt.Errorf("%s answered %s: %s", urls[0], resp.Status, bytes.TrimSpace(body))
		} else {
			last = err
		}
		select {
		case <-p.done:
			return p.Failure(errors.New("exited before it was ready"))
		case <-ctx.Done():
			return p.Failure(fmt.Errorf("not ready: %w (last check: %v)", ctx.Err(), last))
		case <-time.After(25 * time.Millisecond):
		}
	}
	return nil
}

// LogTail returns up to n trailing lines of the file at path, reading at
// most its last 16 KiB.
func LogTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const maxBytes = 16 << 10
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// FreePorts returns n distinct loopback ports that were free a moment ago.
// All n listeners are held until the end so that the ports differ.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Binaries returns the values of the environment variables envs, the paths
// of binaries that scripts/build-tools builds. When any is unset, the test
// fails on CI ($CI non-empty), where skipping would hide the tests that
// need them, and is skipped elsewhere.
func Binaries(t testing.TB, envs ...string) []string {
	t.Helper()
	paths := make([]string, len(envs))
	missing := false
	for i, env := range envs {
		paths[i] = os.Getenv(env)
		missing = missing || paths[i] == ""
	}
	if !missing {
		return paths
	}
	verb := " is"
	if len(envs) > 1 {
		verb = " are"
	}
	Missing(t, "$"+strings.Join(envs, " and $")+verb+" not set: run eval \"$(scripts/build-tools)\" first")
	return nil
}

// Missing ends a test that cannot run because something it needs is not
// installed, saying why: it fails on CI ($CI non-empty), where skipping
// would hide the test, and is skipped elsewhere.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why + " ($CI is set: a test that cannot run fails)")
	}
	t.Skip(why)
}
