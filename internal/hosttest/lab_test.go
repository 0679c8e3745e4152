package hosttest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/hosttest/nodeapi"
)

// reach returns nil when from's GET of to's node answers with to's name.
func reach(from *Proc, to *Host) error {
	r := from.Get("http://"+to.Addr(HTTPPort)+"/", time.Second)
	if r.Err != "" {
		return fmt.Errorf("%s → %s: %s", from.Host(), to, r.Err)
	}
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Body, to.Name+" ") {
		return fmt.Errorf("%s → %s: %d %q", from.Host(), to, r.Status, r.Body)
	}
	return nil
}

func mustReach(t *testing.T, from *Proc, to *Host) {
	t.Helper()
	// A link that was down may take a moment to pass frames again.
	if _, err := Await(10*time.Second, func() error { return reach(from, to) }); err != nil {
		t.Fatal(err)
	}
}

func mustNotReach(t *testing.T, from *Proc, to *Host) {
	t.Helper()
	if err := reach(from, to); err == nil {
		t.Fatalf("%s reaches %s", from.Host(), to)
	}
}

func TestCutHealAndBlock(t *testing.T) {
	l := New(t, 3)
	h0, h1, h2 := l.Host(0), l.Host(1), l.Host(2)
	p := l.StartMesh(nil, nil)
	mustReach(t, p[0], h1)
	mustReach(t, p[0], h2)

	l.Cut(h1)
	mustNotReach(t, p[0], h1)
	mustNotReach(t, p[2], h1)
	mustNotReach(t, p[1], h0)
	mustReach(t, p[0], h2)
	l.Heal(h1)
	mustReach(t, p[0], h1)
	mustReach(t, p[1], h2)

	// h0's packets to h2 are dropped: no TCP handshake completes either
	// way between them, while both still reach h1.
	l.Block(h0, h2)
	mustNotReach(t, p[0], h2)
	mustNotReach(t, p[2], h0)
	mustReach(t, p[0], h1)
	mustReach(t, p[2], h1)
	mustReach(t, p[1], h0)
	mustReach(t, p[1], h2)
	l.Block(h0, h2) // again: nothing changes
	l.Unblock(h0, h2)
	mustReach(t, p[0], h2)
	mustReach(t, p[2], h0)
	l.Unblock(h0, h2) // again: nothing changes
}

func TestLoadAndServedLog(t *testing.T) {
	l := New(t, 2)
	p := l.StartMesh(nil, nil)
	p[0].StartLoad(nodeapi.LoadSpec{Service: "echo", Rate: 50, Method: http.MethodPost})
	var outcomes []nodeapi.Outcome
	backends := map[string]int{}
	_, err := Await(20*time.Second, func() error {
		for _, o := range p[0].Outcomes() {
			outcomes = append(outcomes, o)
			backends[o.Backend]++
		}
		if len(outcomes) < 50 || backends["h0"] == 0 || backends["h1"] == 0 {
			return fmt.Errorf("%d requests ended, by backend %v", len(outcomes), backends)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	outcomes = append(outcomes, p[0].StopLoad()...)
	served := map[string]string{}
	for _, proc := range p {
		for _, id := range proc.Served() {
			if prev, ok := served[id]; ok {
				t.Errorf("request %s served by %s and %s", id, prev, proc.Host())
			}
			served[id] = proc.Host().Name
		}
	}
	backendAddr := map[string]string{}
	for _, h := range l.Hosts() {
		backendAddr[h.Name] = h.Addr(HTTPPort)
	}
	ids := map[string]bool{}
	for _, o := range outcomes {
		if ids[o.ID] {
			t.Errorf("request ID %s used twice", o.ID)
		}
		ids[o.ID] = true
		if !o.OK() {
			t.Errorf("request %s: %d %s", o.ID, o.Status, o.Err)
			continue
		}
		if served[o.ID] != o.Backend {
			t.Errorf("request %s answered by %q, served log says %q", o.ID, o.Backend, served[o.ID])
		}
		if n := len(o.Tries); n == 0 || o.Tries[n-1].Endpoint != backendAddr[o.Backend] || o.Tries[n-1].Outcome != "ok" {
			t.Errorf("request %s answered by %s (%s), tries %+v", o.ID, o.Backend, backendAddr[o.Backend], o.Tries)
		}
		if o.End.Before(o.Start) {
			t.Errorf("request %s ends before it starts", o.ID)
		}
	}
	t.Logf("%d requests, by backend %v", len(outcomes), backends)

	p[1].Shutdown()
	if !p[1].Exited() {
		t.Fatal("h1's node runs after shutdown")
	}
	// The served log outlives a killed process.
	before := len(p[0].Served())
	p[0].Kill()
	if got := len(p[0].Served()); got != before || got == 0 {
		t.Fatalf("served log after kill: %d IDs, before %d", got, before)
	}
	// A host whose process is gone runs a new one, with a new node name.
	again := l.Host(0).StartNode(NodeConfig{})
	if again.Node() == p[0].Node() {
		t.Fatalf("restarted node reuses the name %s", again.Node())
	}
}

func TestOneProcessPerHost(t *testing.T) {
	l := New(t, 1)
	l.Host(0).StartNode(NodeConfig{})
	if _, err := l.Host(0).startNode(NodeConfig{}); err == nil || !strings.Contains(err.Error(), "already runs") {
		t.Fatalf("second node on one host: %v", err)
	}
}

func TestStartFailureQuotesTheLog(t *testing.T) {
	l := New(t, 1)
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte("nonsense: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := l.Host(0).startNode(NodeConfig{PolicyFile: policy})
	if err == nil || !strings.Contains(err.Error(), "policy") {
		t.Fatalf("start with a bad policy: %v", err)
	}
}

func TestReaperDeletesOnlyDeadRunsLeftovers(t *testing.T) {
	tl, why := findTools()
	if why != "" {
		t.Skip(why)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid := dead.Process.Pid
	if alive(strconv.Itoa(deadPid)) {
		t.Skipf("pid %d was reused at once", deadPid)
	}
	stale := fmt.Sprintf("weft-%d-1-h0", deadPid)
	ours := fmt.Sprintf("weft-%d-999-h0", os.Getpid())
	for _, ns := range []string{stale, ours} {
		if err := run(tl.ip, "netns", "add", ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = deleteNamespace(tl.ip, ns) })
	}
	staleDir := filepath.Join(os.TempDir(), buildDirPrefix+strconv.Itoa(deadPid))
	if err := os.MkdirAll(staleDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(staleDir) })

	if err := reapLeftovers(tl.ip); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(netnsDir)
	names := []string{}
	for _, e := range left {
		names = append(names, e.Name())
	}
	if slices.Contains(names, stale) {
		t.Errorf("the dead run's namespace %s is left", stale)
	}
	if !slices.Contains(names, ours) {
		t.Errorf("this run's namespace %s was deleted", ours)
	}
	if _, err := os.Stat(staleDir); err == nil {
		t.Errorf("the dead run's build directory %s is left", staleDir)
	}
}

func TestMissingNftSkipsWithTheReason(t *testing.T) {
	t.Setenv("WEFT_NFT_MISSING", "apt-get install -y nftables failed")
	_, why := findTools()
	if !strings.Contains(why, "nftables") || !strings.Contains(why, "apt-get install -y nftables failed") {
		t.Fatalf("reason %q", why)
	}
}
