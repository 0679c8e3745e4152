package spiretest

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
	"time"
)

// stopGrace is how long a process may take to exit after SIGTERM before it
// is killed.
const stopGrace = 5 * time.Second

// process is one running SPIRE program in its own process group, with its
// output in a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // set before done is closed
}

// startProcess starts bin with args, its output appended to logPath and
// copied to out when out is not nil.
func startProcess(name, bin, logPath string, out io.Writer, args ...string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spiretest: %s log: %w", name, err)
	}
	// The program is not bound to a context: it lives until stop, which
	// kills its whole group.
	cmd := exec.Command(bin, args...) //nolint:gosec // binaries come from the test's own configuration
	var w io.Writer = f
	if out != nil {
		w = io.MultiWriter(f, out)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = sysProcAttr()
	// Bounds the copy to out if a grandchild ever kept the pipe open.
	cmd.WaitDelay = stopGrace
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("spiretest: start %s (%s): %w; run eval \"$(scripts/build-tools)\" to build it", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, logFile: f, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after stopGrace,
// and returns once the process is reaped. It may be called more than once.
func (p *process) stop() {
	if p.exited() {
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

// tail returns the last lines of the process's log, for error messages.
func (p *process) tail() string { return logTail(p.logPath, 40) }

// failure wraps err with the end of the process's log.
func (p *process) failure(err error) error {
	state := ""
	if p.exited() {
		state = fmt.Sprintf(" (exited: %v)", p.waitErr)
	}
	return fmt.Errorf("spiretest: %s%s: %w\n--- %s log (last lines) ---\n%s", p.name, state, err, p.name, p.tail())
}

// logTail returns up to n trailing lines of the file at path.
func logTail(path string, n int) string {
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

// awaitReady polls the health listener at port until it answers /ready
// with 200, the process exits, or ctx ends.
func (p *process) awaitReady(ctx context.Context, port int) error {
	// No keep-alives: an idle connection would leave the transport's
	// goroutines running after the test.
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/ready", port)
	var last error = errors.New("no answer yet")
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return p.failure(err)
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("%s answered %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
		} else {
			last = err
		}
		select {
		case <-p.done:
			return p.failure(errors.New("exited before it was ready"))
		case <-ctx.Done():
			return p.failure(fmt.Errorf("not ready: %w (last check: %v)", ctx.Err(), last))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// All n listeners are held until the end so that the ports differ.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("spiretest: find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
