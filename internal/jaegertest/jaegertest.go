package jaegertest

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
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BinaryEnv names the environment variable scripts/build-tools exports
// with the path of the jaeger binary.
const BinaryEnv = "WEFT_JAEGER"

// stopGrace is how long Jaeger may take to exit after SIGTERM before it is
// killed. With the configuration written here it stops in about 50 ms.
const stopGrace = 5 * time.Second

// Binary returns the path of the jaeger binary from $WEFT_JAEGER. When it
// is not set, the test fails on CI ($CI non-empty), where skipping would
// hide the tests that need Jaeger, and is skipped elsewhere.
func Binary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(BinaryEnv); bin != "" {
		return bin
	}
	const hint = "$" + BinaryEnv + " is not set: run eval \"$(scripts/build-tools)\" first"
	if os.Getenv("CI") != "" {
		t.Fatalf("jaegertest: %s", hint)
	}
	t.Skipf("jaegertest: %s", hint)
	return ""
}

// Config describes the Jaeger to start. The zero Config starts the binary
// named by $WEFT_JAEGER.
type Config struct {
	// Bin is the path of the jaeger binary. If empty, $WEFT_JAEGER.
	Bin string
	// Dir holds the configuration and the log. If empty, a new temporary
	// directory removed by Close; a Dir given here is kept, so that its
	// log can be read after the test.
	Dir string
	// Output, if not nil, receives Jaeger's output as it writes it, in
	// addition to the log file that errors quote. It is written from
	// another goroutine.
	Output io.Writer
}

// Jaeger is a running Jaeger. Its methods are safe for concurrent use.
type Jaeger struct {
	ports   ports
	dir     string
	ownDir  bool
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // set before done is closed
	client  *http.Client

	closeOnce sync.Once
}

// New starts a Jaeger for t from [Binary] (so it skips or fails as Binary
// does) and stops it when t ends. Startup is bounded by 30 s.
func New(t testing.TB) *Jaeger {
	t.Helper()
	bin := Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j, err := Start(ctx, Config{Bin: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// Start starts Jaeger and returns once its health check reports it ready
// and its query API answers. Every step is bounded by ctx; on error
// nothing is left running and the error quotes the end of Jaeger's log.
// Call Close when done.
func Start(ctx context.Context, cfg Config) (*Jaeger, error) {
	if cfg.Bin == "" {
		cfg.Bin = os.Getenv(BinaryEnv)
	}
	if cfg.Bin == "" {
		return nil, fmt.Errorf("jaegertest: no jaeger binary: set Config.Bin, or $%s with eval \"$(scripts/build-tools)\"", BinaryEnv)
	}
	j := &Jaeger{dir: cfg.Dir, done: make(chan struct{})}
	if j.dir == "" {
		d, err := os.MkdirTemp("", "jaeger")
		if err != nil {
			return nil, fmt.Errorf("jaegertest: %w", err)
		}
		j.dir, j.ownDir = d, true
	} else if err := os.MkdirAll(j.dir, 0o700); err != nil {
		return nil, fmt.Errorf("jaegertest: %w", err)
	}
	free, err := freePorts(5)
	if err != nil {
		j.removeDir()
		return nil, err
	}
	j.ports = ports{otlpGRPC: free[0], otlpHTTP: free[1], queryHTTP: free[2], queryGRPC: free[3], health: free[4]}
	conf, err := writeConfig(j.dir, j.ports)
	if err != nil {
		j.removeDir()
		return nil, err
	}
	if err := j.start(cfg, conf); err != nil {
		j.removeDir()
		return nil, err
	}
	// No keep-alives: an idle connection would leave the transport's
	// goroutines running after the test.
	j.client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	if err := j.awaitReady(ctx); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

func (j *Jaeger) start(cfg Config, conf string) error {
	j.logPath = filepath.Join(j.dir, "jaeger.log")
	f, err := os.OpenFile(j.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("jaegertest: log: %w", err)
	}
	// Not bound to a context: Jaeger lives until Close, which stops its
	// whole process group.
	cmd := exec.Command(cfg.Bin, "--config", "file:"+conf) //nolint:gosec // the binary comes from the test's configuration
	var w io.Writer = f
	if cfg.Output != nil {
		w = io.MultiWriter(f, cfg.Output)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = stopGrace
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("jaegertest: start %s: %w; run eval \"$(scripts/build-tools)\" to build it", cfg.Bin, err)
	}
	j.cmd = cmd
	go func() {
		j.waitErr = cmd.Wait()
		f.Close()
		close(j.done)
	}()
	return nil
}

// awaitReady polls the health check, then the query API, until both
// answer 200, Jaeger exits, or ctx ends.
func (j *Jaeger) awaitReady(ctx context.Context) error {
	urls := []string{j.healthURL(), j.QueryURL() + "/api/services"}
	var last error = errors.New("no answer yet")
	for len(urls) > 0 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, urls[0], nil)
		if err != nil {
			return j.failure(err)
		}
		resp, err := j.client.Do(req)
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
		case <-j.done:
			return j.failure(errors.New("exited before it was ready"))
		case <-ctx.Done():
			return j.failure(fmt.Errorf("not ready: %w (last check: %v)", ctx.Err(), last))
		case <-time.After(25 * time.Millisecond):
		}
	}
	return nil
}

// OTLPGRPCAddr returns the host:port of the OTLP/gRPC receiver.
func (j *Jaeger) OTLPGRPCAddr() string { return addr(j.ports.otlpGRPC) }

// OTLPHTTPAddr returns the host:port of the OTLP/HTTP receiver.
func (j *Jaeger) OTLPHTTPAddr() string { return addr(j.ports.otlpHTTP) }

// QueryURL returns the base URL of the query API and UI.
func (j *Jaeger) QueryURL() string { return "http://" + addr(j.ports.queryHTTP) }

func (j *Jaeger) healthURL() string { return "http://" + addr(j.ports.health) + "/status" }

// Log returns the end of Jaeger's log, for failure messages.
func (j *Jaeger) Log() string { return logTail(j.logPath, 40) }

// Close stops Jaeger (SIGTERM to its process group, SIGKILL after a few
// seconds), waits for it to exit and removes the directory Start made. It
// may be called more than once.
func (j *Jaeger) Close() error {
	j.closeOnce.Do(func() {
		if j.cmd != nil {
			j.stop()
		}
		if j.client != nil {
			j.client.CloseIdleConnections()
		}
		j.removeDir()
	})
	return nil
}

func (j *Jaeger) stop() {
	select {
	case <-j.done:
		return
	default:
	}
	pgid := j.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-j.done:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-j.done
	}
}

func (j *Jaeger) removeDir() {
	if j.ownDir {
		os.RemoveAll(j.dir)
	}
}

// failure wraps err with the end of Jaeger's log.
func (j *Jaeger) failure(err error) error {
	state := ""
	select {
	case <-j.done:
		state = fmt.Sprintf(" (exited: %v)", j.waitErr)
	default:
	}
	return fmt.Errorf("jaegertest: jaeger%s: %w\n--- jaeger log (last lines) ---\n%s", state, err, j.Log())
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

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

// freePorts returns n distinct loopback ports that were free a moment ago.
// All n listeners are held until the end so that the ports differ.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("jaegertest: find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
