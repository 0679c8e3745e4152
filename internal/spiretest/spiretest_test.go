package spiretest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// TestStartServesRegisteredIdentity starts SPIRE once and checks the whole
// path a Weft test relies on: an entry registered for the test's uid is
// served on SocketAddr, signed by the server's bundle, and Close leaves
// neither processes nor files behind.
func TestStartServesRegisteredIdentity(t *testing.T) {
	serverBin, agentBin := Binaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	began := time.Now()
	s, err := Start(ctx, Config{ServerBin: serverBin, AgentBin: agentBin})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Logf("SPIRE ready in %v", time.Since(began).Round(time.Millisecond))

	if !strings.HasPrefix(s.SocketAddr(), "unix:///") {
		t.Errorf("SocketAddr() = %q, want unix:///...", s.SocketAddr())
	}
	if got := s.AgentID().Path(); !strings.HasPrefix(got, "/spire/agent/join_token/") {
		t.Errorf("AgentID path = %q, want /spire/agent/join_token/<token>", got)
	}

	id := spiffeid.RequireFromString("spiffe://example.org/spiretest")
	registering := time.Now()
	if err := s.Register(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
	t.Logf("Register took %v", time.Since(registering).Round(time.Millisecond))
	registered := time.Now()
	// Until the agent has synced the entry, the Workload API answers
	// PermissionDenied.
	var svid *x509svid.SVID
	for {
		svid, err = workloadapi.FetchX509SVID(ctx, workloadapi.WithAddr(s.SocketAddr()))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("fetch SVID: %v\n%s", err, s.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("first SVID %v after Register", time.Since(registered).Round(time.Millisecond))
	if svid.ID != id {
		t.Errorf("SVID ID = %s, want %s", svid.ID, id)
	}

	bundle, err := s.Bundle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svid.Certificates[0].Verify(verifyOpts(bundle.X509Authorities(), svid.Certificates[1:])); err != nil {
		t.Errorf("SVID does not chain to the server's bundle: %v", err)
	}

	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, id); err == nil {
		t.Error("deleting an entry twice succeeded")
	}

	dir := s.Dir()
	server, agent := s.server.Pid(), s.agent.Pid()
	closing := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %v", time.Since(closing).Round(time.Millisecond))
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Dir %s still exists after Close (stat: %v)", dir, err)
	}
	for _, pid := range []int{server, agent} {
		if alive(pid) {
			t.Errorf("process %d still running after Close", pid)
		}
	}
}

// TestStartFailureQuotesLog proves that a process that cannot start makes
// Start fail fast with its own log in the error, and leaves nothing behind.
func TestStartFailureQuotesLog(t *testing.T) {
	serverBin, agentBin := Binaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("", "sp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// A file where the server's data directory belongs stops it at once.
	if err := os.WriteFile(filepath.Join(dir, "server"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Start(ctx, Config{ServerBin: serverBin, AgentBin: agentBin, Dir: dir})
	if err == nil {
		t.Fatal("Start succeeded with an unusable data directory")
	}
	msg := err.Error()
	if !strings.Contains(msg, "spire-server") || !strings.Contains(msg, "log (last lines)") {
		t.Errorf("error does not name the process and quote its log: %v", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Start waited for its deadline instead of noticing the exit: %v", err)
	}
}

func TestStartRejectsLongDir(t *testing.T) {
	_, err := Start(t.Context(), Config{ServerBin: "x", AgentBin: "y", Dir: "/tmp/" + strings.Repeat("d", 120)})
	if err == nil || !strings.Contains(err.Error(), "shorter Config.Dir") {
		t.Fatalf("Start with a long Dir: %v, want the socket path error", err)
	}
}

func TestStartWithoutBinaries(t *testing.T) {
	t.Setenv(ServerEnv, "")
	t.Setenv(AgentEnv, "")
	_, err := Start(t.Context(), Config{})
	if err == nil || !strings.Contains(err.Error(), "scripts/build-tools") {
		t.Fatalf("Start without binaries: %v, want the build-tools hint", err)
	}
}
