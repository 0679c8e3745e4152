package jaegertest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/proctest"
)

// BinaryEnv names the environment variable scripts/build-tools exports
// with the path of the jaeger binary.
const BinaryEnv = "WEFT_JAEGER"

// Binary returns the path of the jaeger binary from $WEFT_JAEGER. When it
// is not set, the test fails on CI ($CI non-empty), where skipping would
// hide the tests that need Jaeger, and is skipped elsewhere.
func Binary(t testing.TB) string {
	t.Helper()
	return proctest.Binaries(t, BinaryEnv)[0]
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
	ports  ports
	dir    string
	ownDir bool
	proc   *proctest.Process
	client *http.Client

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
	j := &Jaeger{dir: cfg.Dir}
	if j.dir == "" {
		d, err := os.MkdirTemp("", "jaeger")
		if err != nil {
			return nil, fmt.Errorf("jaegertest: %w", err)
		}
		j.dir, j.ownDir = d, true
	} else if err := os.MkdirAll(j.dir, 0o700); err != nil {
		return nil, fmt.Errorf("jaegertest: %w", err)
	}
	free, err := proctest.FreePorts(5)
	if err != nil {
		j.removeDir()
		return nil, fmt.Errorf("jaegertest: %w", err)
	}
	j.ports = ports{otlpGRPC: free[0], otlpHTTP: free[1], queryHTTP: free[2], queryGRPC: free[3], health: free[4]}
	conf, err := writeConfig(j.dir, j.ports)
	if err != nil {
		j.removeDir()
		return nil, err
	}
	// Not bound to a context: Jaeger lives until Close, which stops its
	// whole process group.
	j.proc, err = proctest.Start(proctest.Config{Name: "jaeger", Bin: cfg.Bin,
		Args: []string{"--config", "file:" + conf}, LogPath: filepath.Join(j.dir, "jaeger.log"), Output: cfg.Output})
	if err != nil {
		j.removeDir()
		return nil, fmt.Errorf("jaegertest: %w", err)
	}
	// No keep-alives: an idle connection would leave the transport's
	// goroutines running after the test.
	j.client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	if err := j.proc.AwaitReady(ctx, j.client, j.healthURL(), j.QueryURL()+"/api/services"); err != nil {
		j.Close()
		return nil, fmt.Errorf("jaegertest: %w", err)
	}
	return j, nil
}

// OTLPGRPCAddr returns the host:port of the OTLP/gRPC receiver.
func (j *Jaeger) OTLPGRPCAddr() string { return addr(j.ports.otlpGRPC) }

// OTLPHTTPAddr returns the host:port of the OTLP/HTTP receiver.
func (j *Jaeger) OTLPHTTPAddr() string { return addr(j.ports.otlpHTTP) }

// QueryURL returns the base URL of the query API and UI.
func (j *Jaeger) QueryURL() string { return "http://" + addr(j.ports.queryHTTP) }

func (j *Jaeger) healthURL() string { return "http://" + addr(j.ports.health) + "/status" }

// Log returns the end of Jaeger's log, for failure messages.
func (j *Jaeger) Log() string { return j.proc.Tail() }

// Close stops Jaeger (SIGTERM to its process group, SIGKILL after a few
// seconds), waits for it to exit and removes the directory Start made. It
// may be called more than once.
func (j *Jaeger) Close() error {
	j.closeOnce.Do(func() {
		if j.proc != nil {
			j.proc.Stop()
		}
		if j.client != nil {
			j.client.CloseIdleConnections()
		}
		j.removeDir()
	})
	return nil
}

func (j *Jaeger) removeDir() {
	if j.ownDir {
		os.RemoveAll(j.dir)
	}
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
