package policy

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/logtest"
)

const (
	policyV1 = "version: 1\nmesh: {name: shop}\nservices:\n  a: {timeout: 1s}\n"
	policyV2 = "version: 1\nmesh: {name: shop}\nservices:\n  a: {timeout: 2s}\n  b: {}\n"
)

// startWatch writes policyV1 to a new file, loads it and watches it.
func startWatch(t *testing.T, cfg WatchConfig) (string, *Policy, *Watcher) {
	t.Helper()
	path := writeFile(t, t.TempDir(), "mesh.yaml", policyV1)
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	w := Watch(path, p, cfg)
	t.Cleanup(w.Close)
	return path, p, w
}

func TestWatchAppliesValidChangeWithinOneSecond(t *testing.T) {
	logger, logs := logtest.New()
	var mu sync.Mutex
	var applied []*Policy
	path, v1, w := startWatch(t, WatchConfig{Logger: logger, Apply: func(p *Policy) error {
		mu.Lock()
		defer mu.Unlock()
		applied = append(applied, p)
		return nil
	}})
	if got := w.Stats(); got.Hash != v1.Hash || got.Applied != 0 {
		t.Fatalf("initial stats = %+v", got)
	}
	replaceFile(t, path, policyV2)
	waitFor(t, time.Second, "the new policy to be applied", func() bool { return w.Stats().Applied == 1 })

	mu.Lock()
	defer mu.Unlock()
	if len(applied) != 1 || applied[0].Destination("a").Timeout != 2*time.Second {
		t.Fatalf("applied = %+v", applied)
	}
	st := w.Stats()
	if st.Hash != applied[0].Hash || w.Current() != applied[0] || st.Rejected != 0 || st.LastError != "" {
		t.Errorf("stats = %+v, current = %p, applied = %p", st, w.Current(), applied[0])
	}
	if out := logs.String(); !strings.Contains(out, "policy: applied") || strings.Contains(out, "missing") {
		t.Errorf("log:\n%s", out)
	}
}

func TestWatchSameSizeRewriteInPlace(t *testing.T) {
	path, _, w := startWatch(t, WatchConfig{Interval: 10 * time.Millisecond})
	// Same length as policyV1, written in place right after it: the stat
	// may not change, so only re-reading recently modified files sees it.
	same := strings.Replace(policyV1, "1s", "3s", 1)
	if err := os.WriteFile(path, []byte(same), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the rewrite to be applied", func() bool { return w.Stats().Applied == 1 })
	if got := w.Current().Destination("a").Timeout; got != 3*time.Second {
		t.Errorf("timeout = %v", got)
	}
}

func TestWatchKeepsPolicyOnInvalidChange(t *testing.T) {
	logger, logs := logtest.New()
	path, v1, w := startWatch(t, WatchConfig{Interval: 10 * time.Millisecond, Logger: logger})
	replaceFile(t, path, "version: 1\nmesh: {name: Shop}\nservices:\n  a: {timeout: soon}\n")
	waitFor(t, 5*time.Second, "the invalid policy to be rejected", func() bool { return w.Stats().Rejected == 1 })

	st := w.Stats()
	if w.Current() != v1 || st.Hash != v1.Hash || st.Applied != 0 {
		t.Errorf("policy in force changed: stats = %+v", st)
	}
	if !strings.Contains(st.LastError, "mesh.yaml:2:14: mesh.name:") {
		t.Errorf("LastError = %q", st.LastError)
	}
	out := logs.String()
	for _, want := range []string{"mesh.yaml:2:14: mesh.name:", "mesh.yaml:4:16: services.a.timeout:"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "policy: rejected"); n != 2 {
		t.Errorf("%d rejection lines, want one per error:\n%s", n, out)
	}

	// Going back to the version in force applies nothing.
	replaceFile(t, path, policyV1)
	replaceFile(t, path, policyV2)
	waitFor(t, 5*time.Second, "the valid policy to be applied", func() bool { return w.Stats().Applied == 1 })
	if st := w.Stats(); st.Rejected != 1 {
		t.Errorf("invalid version counted more than once: %+v", st)
	}
}

func TestWatchApplyErrorRejects(t *testing.T) {
	logger, logs := logtest.New()
	path := writeFile(t, t.TempDir(), "mesh.yaml", policyV1)
	v1, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	w := Watch(path, v1, WatchConfig{Interval: 10 * time.Millisecond, Logger: logger, Apply: func(p *Policy) error {
		return CheckReload(v1, p)
	}})
	defer w.Close()
	replaceFile(t, path, strings.Replace(policyV1, "shop", "shop2", 1))
	waitFor(t, 5*time.Second, "Apply to reject the policy", func() bool { return w.Stats().Rejected == 1 })
	st := w.Stats()
	if st.Applied != 0 || st.Hash != v1.Hash || !strings.Contains(st.LastError, "requires a restart") {
		t.Errorf("stats = %+v", st)
	}
	if out := logs.String(); !strings.Contains(out, `mesh.yaml:2:14: mesh.name: changed from \"shop\" to \"shop2\"`) {
		t.Errorf("log:\n%s", out)
	}
}

func TestWatchApplyPlainError(t *testing.T) {
	logger, logs := logtest.New()
	path, _, w := startWatch(t, WatchConfig{Interval: 10 * time.Millisecond, Logger: logger, Apply: func(*Policy) error {
		return errors.New("node: refused")
	}})
	replaceFile(t, path, policyV2)
	waitFor(t, 5*time.Second, "Apply to reject the policy", func() bool { return w.Stats().Rejected == 1 })
	if st := w.Stats(); st.LastError != "node: refused" || st.Applied != 0 {
		t.Errorf("stats = %+v", st)
	}
	if out := logs.String(); !strings.Contains(out, "policy: not applied") || !strings.Contains(out, "node: refused") {
		t.Errorf("log:\n%s", out)
	}
}

func TestWatchMissingFile(t *testing.T) {
	logger, logs := logtest.New()
	path, v1, w := startWatch(t, WatchConfig{Interval: 10 * time.Millisecond, Logger: logger})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the missing file to be logged", func() bool {
		return strings.Contains(logs.String(), "policy file is missing")
	})
	if st := w.Stats(); w.Current() != v1 || st.Rejected != 0 || !strings.Contains(st.LastError, "no such file") {
		t.Errorf("stats = %+v", st)
	}
	writeFile(t, strings.TrimSuffix(path, "mesh.yaml"), "mesh.yaml", policyV2)
	waitFor(t, 5*time.Second, "the restored file to be applied", func() bool { return w.Stats().Applied == 1 })
	out := logs.String()
	if n := strings.Count(out, "policy file is missing"); n != 1 {
		t.Errorf("missing file logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "readable again") {
		t.Errorf("log:\n%s", out)
	}
}

func TestWatchWithoutCurrentAppliesFirstVersion(t *testing.T) {
	path := writeFile(t, t.TempDir(), "mesh.yaml", policyV1)
	w := Watch(path, nil, WatchConfig{Interval: 10 * time.Millisecond})
	defer w.Close()
	waitFor(t, 5*time.Second, "the first policy", func() bool { return w.Current() != nil })
	if st := w.Stats(); st.Applied != 1 || st.Hash != w.Current().Hash {
		t.Errorf("stats = %+v", st)
	}
}

func TestWatchCloseIsIdempotent(t *testing.T) {
	_, _, w := startWatch(t, WatchConfig{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(w.Close)
	}
	wg.Wait()
	w.Close()
}
