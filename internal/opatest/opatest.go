// Package opatest runs a real Open Policy Agent server for Weft's tests,
// so that external authorization is tested against OPA's own REST data
// API evaluating a real Rego policy.
//
// [Start] writes the policy into a temporary directory and runs `opa run
// --server` on a free loopback port, returning once its health endpoint
// answers. The binary comes from scripts/build-tools, which builds OPA
// once into a cache outside the repository and exports its path as
// $WEFT_OPA; tests find it with [Binary].
package opatest

import (
	"context"
	"fmt"
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
// with the path of the opa binary.
const BinaryEnv = "WEFT_OPA"

// Binary returns the path of the opa binary from $WEFT_OPA; the test
// fails on CI and is skipped elsewhere when it is not set.
func Binary(t testing.TB) string {
	t.Helper()
	return proctest.Binaries(t, BinaryEnv)[0]
}

// OPA is a running OPA server.
type OPA struct {
	url  string
	dir  string
	proc *proctest.Process
	once sync.Once
}

// New starts an OPA serving the Rego policy for t, and stops it when t
// ends. Startup is bounded by 30 s.
func New(t testing.TB, policy string) *OPA {
	t.Helper()
	bin := Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := Start(ctx, bin, policy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

// Start starts OPA with the Rego policy and returns once it is healthy.
// On error nothing is left running and the error quotes OPA's log.
func Start(ctx context.Context, bin, policy string) (*OPA, error) {
	dir, err := os.MkdirTemp("", "opa")
	if err != nil {
		return nil, fmt.Errorf("opatest: %w", err)
	}
	o := &OPA{dir: dir}
	rego := filepath.Join(dir, "policy.rego")
	if err := os.WriteFile(rego, []byte(policy), 0o600); err != nil {
		o.Close()
		return nil, fmt.Errorf("opatest: %w", err)
	}
	ports, err := proctest.FreePorts(1)
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("opatest: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	o.url = "http://" + addr
	o.proc, err = proctest.Start(proctest.Config{Name: "opa", Bin: bin, LogPath: filepath.Join(dir, "opa.log"),
		Args: []string{"run", "--server", "--addr", addr, "--log-level", "error", "--skip-version-check", rego}})
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("opatest: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	if err := o.proc.AwaitReady(ctx, client, o.url+"/health?bundles=true"); err != nil {
		o.Close()
		return nil, fmt.Errorf("opatest: %w", err)
	}
	return o, nil
}

// URL returns the server's base URL, such as http://127.0.0.1:8181.
func (o *OPA) URL() string { return o.url }

// Log returns the end of OPA's log.
func (o *OPA) Log() string { return o.proc.Tail() }

// Close stops OPA and removes its directory. It may be called more than
// once.
func (o *OPA) Close() {
	o.once.Do(func() {
		if o.proc != nil {
			o.proc.Stop()
		}
		os.RemoveAll(o.dir)
	})
}
