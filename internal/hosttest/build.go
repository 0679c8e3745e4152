package hosttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// buildTimeout bounds building the node program, cold caches included.
const buildTimeout = 5 * time.Minute

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// nodeBinary returns the weftnode program, built on first use into a
// directory named after this process (so that a later run can remove it
// when this one died) and kept for the other tests of the process. It is
// built without the race detector: the nodes' timing should be a
// program's, not a race-checked one's.
func nodeBinary() (string, error) {
	built.once.Do(func() {
		built.dir = filepath.Join(os.TempDir(), fmt.Sprintf("%s%d", buildDirPrefix, os.Getpid()))
		if built.err = os.MkdirAll(built.dir, 0o755); built.err != nil {
			return
		}
		goCmd, err := exec.LookPath("go")
		if err != nil {
			built.err = fmt.Errorf("build weftnode: the go command is not on $PATH: %w", err)
			return
		}
		path := filepath.Join(built.dir, "weftnode")
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, goCmd, "build", "-o", path, "github.com/weftmesh/weft/internal/hosttest/weftnode")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("build weftnode: %w\n%s", err, out)
			return
		}
		built.path = path
	})
	return built.path, built.err
}

// Cleanup wraps m so that, once its tests have run, the node program built
// for them is removed. Use it in the TestMain of a package with labs:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(hosttest.Cleanup(m)) }
func Cleanup(m *testing.M) interface{ Run() int } { return cleanup{m} }

type cleanup struct{ m *testing.M }

func (c cleanup) Run() int {
	code := c.m.Run()
	if built.dir != "" {
		if err := os.RemoveAll(built.dir); err != nil {
			fmt.Fprintf(os.Stderr, "hosttest: remove %s: %v\n", built.dir, err)
		}
	}
	return code
}
