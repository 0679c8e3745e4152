package proctest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// alive reports whether a process with pid exists and has not exited: a
// reaped child does not exist, and an orphan that exited may stay a zombie
// until whatever adopted it reaps it.
func alive(pid int) bool {
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// The state follows the command name, which is in parentheses.
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && strings.HasPrefix(string(stat[i:]), ") Z") {
			return false
		}
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// TestStopEndsProcessGroup starts a shell with a child of its own, and checks that Stop ends both and that the log holds
// the output.
func TestStopEndsProcessGroup(t *testing.T) {
	log := filepath.Join(t.TempDir(), "sh.log")
	p, err := Start(Config{Name: "sh", Bin: "/bin/sh", LogPath: log,
		Args: []string{"-c", "echo started; sleep 60 & echo child $!; wait"}})
	if err != nil {
		t.Fatal(err)
	}
	var child int
	deadline := time.Now().Add(10 * time.Second)
	for child == 0 && time.Now().Before(deadline) {
		fmt.Sscanf(p.Tail(), "started\nchild %d", &child)
		time.Sleep(10 * time.Millisecond)
	}
	if child == 0 {
		t.Fatalf("no child pid in log: %q", p.Tail())
	}
	if p.Exited() {
		t.Fatal("Exited before Stop")
	}
	p.Stop()
	p.Stop()
	select {
	case <-p.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if alive(p.Pid()) {
		t.Errorf("process %d still running after Stop", p.Pid())
	}
	// The grandchild is reparented, not reaped by us: wait for it to go.
	for alive(child) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(child) {
		t.Errorf("child %d of the group still running after Stop", child)
	}
}

func TestAwaitReady(t *testing.T) {
	// /b answers 200 only once /a has, so the URLs must be checked in
	// order; /never never does.
	var aChecked atomic.Bool
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/a":
			aChecked.Store(true)
		case r.URL.Path == "/b" && aChecked.Load():
		default:
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	base := "http://" + l.Addr().String()

	p, err := Start(Config{Name: "sleeper", Bin: "/bin/sh", LogPath: filepath.Join(t.TempDir(), "log"), Args: []string{"-c", "exec sleep 60"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.AwaitReady(ctx, nil, base+"/a", base+"/b"); err != nil {
		t.Fatal(err)
	}

	short, cancel2 := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel2()
	err = p.AwaitReady(short, nil, base+"/never")
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "503") {
		t.Errorf("AwaitReady on a 503 URL = %v, want a deadline error quoting the last answer", err)
	}
}

func TestAwaitReadyNoticesExit(t *testing.T) {
	p, err := Start(Config{Name: "quitter", Bin: "/bin/sh", LogPath: filepath.Join(t.TempDir(), "log"),
		Args: []string{"-c", "echo cannot go on; exit 3"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	ports, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = p.AwaitReady(ctx, nil, fmt.Sprintf("http://127.0.0.1:%d/", ports[0]))
	if err == nil || ctx.Err() != nil {
		t.Fatalf("AwaitReady = %v (ctx %v), want an early exit error", err, ctx.Err())
	}
	for _, want := range []string{"quitter (exited: exit status 3)", "exited before it was ready", "--- quitter log (last lines) ---\ncannot go on"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestStartMissingBinary(t *testing.T) {
	_, err := Start(Config{Name: "nothing", Bin: "/nonexistent/bin", LogPath: filepath.Join(t.TempDir(), "log")})
	if err == nil || !strings.Contains(err.Error(), "scripts/build-tools") || !strings.Contains(err.Error(), "nothing") {
		t.Fatalf("Start(missing binary) = %v, want the program's name and the build hint", err)
	}
}

func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := LogTail(path, 3), "line 97\nline 98\nline 99"; got != want {
		t.Errorf("LogTail = %q, want %q", got, want)
	}
	if got := LogTail(filepath.Join(t.TempDir(), "missing"), 3); !strings.HasPrefix(got, "(no log:") {
		t.Errorf("LogTail(missing) = %q", got)
	}
}

func TestFreePorts(t *testing.T) {
	ports, err := FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Errorf("ports %v: want 4 distinct ports", ports)
		}
		seen[p] = true
	}
}

func TestBinaries(t *testing.T) {
	t.Setenv("PROCTEST_A", "/bin/a")
	t.Setenv("PROCTEST_B", "/bin/b")
	if got := Binaries(t, "PROCTEST_A", "PROCTEST_B"); len(got) != 2 || got[0] != "/bin/a" || got[1] != "/bin/b" {
		t.Errorf("Binaries = %v", got)
	}
	t.Setenv("PROCTEST_B", "")
	t.Setenv("CI", "")
	// Skip ends a test through runtime.Goexit: run it in a subtest and
	// check that it skipped rather than passed or failed.
	var skipped bool
	t.Run("unset", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Binaries(t, "PROCTEST_A", "PROCTEST_B")
		t.Error("Binaries returned with $PROCTEST_B unset")
	})
	if !skipped {
		t.Error("Binaries did not skip with $PROCTEST_B unset outside CI")
	}
}

// endings records how a test was ended, as testing.T does: Fatal and Skip
// end the goroutine.
type endings struct {
	testing.TB
	fatal, skip string
}

func (e *endings) Helper()           {}
func (e *endings) Fatal(args ...any) { e.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (e *endings) Skip(args ...any)  { e.skip = fmt.Sprint(args...); runtime.Goexit() }

// end runs Missing on a recording TB and returns how it ended the test.
func end(why string) *endings {
	e := &endings{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Missing(e, why)
	}()
	<-done
	return e
}

// A test that cannot run fails on CI and skips elsewhere, quoting why.
func TestMissing(t *testing.T) {
	const why = "Chromium is not installed: apt-get update failed"
	t.Setenv("CI", "")
	if e := end(why); e.skip != why || e.fatal != "" {
		t.Errorf("outside CI: skipped %q, failed %q; want a skip quoting the reason", e.skip, e.fatal)
	}
	t.Setenv("CI", "true")
	if e := end(why); !strings.HasPrefix(e.fatal, why) || !strings.Contains(e.fatal, "$CI is set") || e.skip != "" {
		t.Errorf("on CI: failed %q, skipped %q; want a failure quoting the reason", e.fatal, e.skip)
	}
}
