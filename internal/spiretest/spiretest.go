package spiretest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/internal/proctest"
)

// Environment variables that scripts/build-tools exports.
const (
	ServerEnv = "WEFT_SPIRE_SERVER"
	AgentEnv  = "WEFT_SPIRE_AGENT"
)

// maxSocketPath keeps the agent's socket path within the 108 bytes a unix
// socket address holds, with room for the terminating byte.
const maxSocketPath = 100

// Config describes the SPIRE to start. The zero Config starts SPIRE for
// the trust domain example.org from the binaries named in the environment.
type Config struct {
	// TrustDomain is the trust domain the server signs for. If zero,
	// example.org.
	TrustDomain spiffeid.TrustDomain

	// ServerBin and AgentBin are the paths of spire-server and
	// spire-agent. If empty, $WEFT_SPIRE_SERVER and $WEFT_SPIRE_AGENT.
	ServerBin, AgentBin string

	// Dir holds the configuration, data, logs and sockets. Its path must
	// be short: the agent's socket lives in it, and a unix socket path has
	// at most 108 bytes (t.TempDir() paths can be longer). If empty, a new
	// directory under os.TempDir(), removed by Close; a Dir given here is
	// kept, so that its logs can be read after the test.
	Dir string

	// SVIDTTL is the lifetime of the SVIDs the server issues, unless an
	// entry sets its own (see [SPIRE.Register]). It also sets the agent's
	// own SVID lifetime. If zero, SPIRE's default, one hour.
	SVIDTTL time.Duration

	// Output receives the output of both processes as they write it, in
	// addition to the log files in Dir that errors quote. If nil, the
	// output goes only to those files. It is written from other
	// goroutines and must be safe for that (os.Stderr is).
	Output io.Writer
}

// SPIRE is a running SPIRE server and agent. Its methods are safe for
// concurrent use.
type SPIRE struct {
	td        spiffeid.TrustDomain
	serverBin string
	dir       string
	ownDir    bool
	agentID   spiffeid.ID
	server    *proctest.Process
	agent     *proctest.Process

	closeOnce sync.Once
	closeErr  error
}

// Start starts a SPIRE server, attests an agent to it with a join token,
// and returns once both are ready. Every step is bounded by ctx; on error
// nothing is left running and the error quotes the end of the log of the
// process that failed. Call Close when done.
func Start(ctx context.Context, cfg Config) (*SPIRE, error) {
	if cfg.TrustDomain.IsZero() {
		cfg.TrustDomain = spiffeid.RequireTrustDomainFromString("example.org")
	}
	if cfg.ServerBin == "" {
		cfg.ServerBin = os.Getenv(ServerEnv)
	}
	if cfg.AgentBin == "" {
		cfg.AgentBin = os.Getenv(AgentEnv)
	}
	if cfg.ServerBin == "" || cfg.AgentBin == "" {
		return nil, fmt.Errorf("spiretest: no SPIRE binaries: set Config.ServerBin and AgentBin, or $%s and $%s with eval \"$(scripts/build-tools)\"", ServerEnv, AgentEnv)
	}
	if cfg.SVIDTTL < 0 {
		return nil, fmt.Errorf("spiretest: SVIDTTL must not be negative, got %v", cfg.SVIDTTL)
	}

	s := &SPIRE{td: cfg.TrustDomain, serverBin: cfg.ServerBin, dir: cfg.Dir}
	if s.dir == "" {
		d, err := os.MkdirTemp("", "sp")
		if err != nil {
			return nil, fmt.Errorf("spiretest: %w", err)
		}
		s.dir, s.ownDir = d, true
	} else if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("spiretest: %w", err)
	}
	dir, err := filepath.Abs(s.dir)
	if err != nil {
		s.removeDir()
		return nil, fmt.Errorf("spiretest: %w", err)
	}
	s.dir = dir
	if n := len(s.agentSocket()); n > maxSocketPath {
		s.removeDir()
		return nil, fmt.Errorf("spiretest: socket path %s is %d bytes, more than a unix socket holds; use a shorter Config.Dir", s.agentSocket(), n)
	}
	if err := s.start(ctx, cfg); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *SPIRE) start(ctx context.Context, cfg Config) error {
	ports, err := proctest.FreePorts(3)
	if err != nil {
		return fmt.Errorf("spiretest: %w", err)
	}
	serverPort, serverHealth, agentHealth := ports[0], ports[1], ports[2]

	serverConfPath := filepath.Join(s.dir, "server.conf")
	if err := os.WriteFile(serverConfPath, []byte(serverConf(s.td, s.dir, serverPort, serverHealth, cfg.SVIDTTL)), 0o600); err != nil {
		return fmt.Errorf("spiretest: %w", err)
	}
	s.server, err = proctest.Start(proctest.Config{Name: "spire-server", Bin: cfg.ServerBin,
		Args: []string{"run", "-config", serverConfPath}, LogPath: filepath.Join(s.dir, "server.log"), Output: cfg.Output})
	if err != nil {
		return fmt.Errorf("spiretest: %w", err)
	}
	if err := s.server.AwaitReady(ctx, nil, readyURL(serverHealth)); err != nil {
		return fmt.Errorf("spiretest: %w", err)
	}

	token, err := s.generateToken(ctx)
	if err != nil {
		return err
	}
	s.agentID, err = spiffeid.FromSegments(s.td, "spire", "agent", "join_token", token)
	if err != nil {
		return fmt.Errorf("spiretest: agent ID from join token %q: %w", token, err)
	}

	agentConfPath := filepath.Join(s.dir, "agent.conf")
	if err := os.WriteFile(agentConfPath, []byte(agentConf(s.td, s.dir, serverPort, agentHealth)), 0o600); err != nil {
		return fmt.Errorf("spiretest: %w", err)
	}
	s.agent, err = proctest.Start(proctest.Config{Name: "spire-agent", Bin: cfg.AgentBin,
		Args: []string{"run", "-config", agentConfPath, "-joinToken", token}, LogPath: filepath.Join(s.dir, "agent.log"), Output: cfg.Output})
	if err != nil {
		return fmt.Errorf("spiretest: %w", err)
	}
	if err := s.agent.AwaitReady(ctx, nil, readyURL(agentHealth)); err != nil {
		return fmt.Errorf("spiretest: %w\n--- spire-server log (last lines) ---\n%s", err, s.server.Tail())
	}
	return nil
}

// readyURL is the readiness endpoint of a health listener at port.
func readyURL(port int) string { return fmt.Sprintf("http://127.0.0.1:%d/ready", port) }

// TrustDomain returns the trust domain the server signs for.
func (s *SPIRE) TrustDomain() spiffeid.TrustDomain { return s.td }

// AgentID returns the agent's SPIFFE ID, the parent of every entry that
// Register creates.
func (s *SPIRE) AgentID() spiffeid.ID { return s.agentID }

// SocketAddr returns the agent's Workload API address in the form that
// go-spiffe's workloadapi takes: "unix:///.../agent.sock".
func (s *SPIRE) SocketAddr() string { return "unix://" + s.agentSocket() }

// Dir returns the directory that holds SPIRE's files and logs.
func (s *SPIRE) Dir() string { return s.dir }

// Logs returns the last lines of both processes' logs, for a failing test
// to print.
func (s *SPIRE) Logs() string {
	out := "--- spire-server log (last lines) ---\n" + proctest.LogTail(filepath.Join(s.dir, "server.log"), 40)
	return out + "\n--- spire-agent log (last lines) ---\n" + proctest.LogTail(filepath.Join(s.dir, "agent.log"), 40)
}

func (s *SPIRE) agentSocket() string  { return filepath.Join(s.dir, "agent.sock") }
func (s *SPIRE) serverSocket() string { return filepath.Join(s.dir, "server.sock") }

// Close stops the agent, then the server (SIGTERM, and SIGKILL for a
// process still running a few seconds later), waits for both to exit and
// removes the directory Start created. It is idempotent; every call
// returns the first call's result.
func (s *SPIRE) Close() error {
	s.closeOnce.Do(func() {
		for _, p := range []*proctest.Process{s.agent, s.server} {
			if p != nil {
				p.Stop()
			}
		}
		s.closeErr = s.removeDir()
	})
	return s.closeErr
}

func (s *SPIRE) removeDir() error {
	if !s.ownDir {
		return nil
	}
	if err := os.RemoveAll(s.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spiretest: remove %s: %w", s.dir, err)
	}
	return nil
}
