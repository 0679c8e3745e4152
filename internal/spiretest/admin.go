package spiretest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// serverCLI runs a spire-server subcommand against the server's admin
// socket and returns its standard output.
func (s *SPIRE) serverCLI(ctx context.Context, args ...string) ([]byte, error) {
	// The admin socket flag belongs to the subcommand, after its name.
	n := 1
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		n = 2
	}
	full := append(append(append([]string{}, args[:n]...), "-socketPath", s.serverSocket()), args[n:]...)
	cmd := exec.CommandContext(ctx, s.serverBin, full...) //nolint:gosec // binary from the test's own configuration
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		said := strings.TrimSpace(strings.TrimSpace(stderr.String()) + "\n" + strings.TrimSpace(stdout.String()))
		return nil, fmt.Errorf("spiretest: spire-server %s: %w: %s\n--- spire-server log (last lines) ---\n%s",
			strings.Join(full, " "), err, said, s.server.Tail())
	}
	return stdout.Bytes(), nil
}

// generateToken creates a single-use join token for the agent.
func (s *SPIRE) generateToken(ctx context.Context) (string, error) {
	out, err := s.serverCLI(ctx, "token", "generate", "-ttl", "600", "-output", "json")
	if err != nil {
		return "", err
	}
	var tok struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(out, &tok); err != nil || tok.Value == "" {
		return "", fmt.Errorf("spiretest: unexpected answer from token generate: %q (%v)", out, err)
	}
	return tok.Value, nil
}

// Register creates a registration entry that gives id to every process
// running as this test's uid on the agent, so to the test itself. ttl is
// the lifetime of the X.509 SVIDs issued for it, in whole seconds; if
// zero, the server's default (Config.SVIDTTL). The agent learns of the
// entry within about two seconds.
//
// Entries with the same selector accumulate: the Workload API then serves
// all of their SVIDs to the test.
func (s *SPIRE) Register(ctx context.Context, id spiffeid.ID, ttl time.Duration) error {
	if ttl < 0 || (ttl > 0 && ttl < time.Second) {
		return fmt.Errorf("spiretest: register %s: ttl must be zero or at least 1s, got %v", id, ttl)
	}
	args := []string{"entry", "create",
		"-parentID", s.agentID.String(),
		"-spiffeID", id.String(),
		"-selector", "unix:uid:" + strconv.Itoa(os.Getuid()),
		"-output", "json",
	}
	if ttl > 0 {
		args = append(args, "-x509SVIDTTL", strconv.Itoa(int(ttl/time.Second)))
	}
	out, err := s.serverCLI(ctx, args...)
	if err != nil {
		return err
	}
	return batchResult(out, "register "+id.String())
}

// Delete removes every registration entry for id that Register created.
// The agent stops serving its SVIDs within about two seconds.
func (s *SPIRE) Delete(ctx context.Context, id spiffeid.ID) error {
	out, err := s.serverCLI(ctx, "entry", "show", "-spiffeID", id.String(), "-parentID", s.agentID.String(), "-output", "json")
	if err != nil {
		return err
	}
	var shown struct {
		Entries []struct {
			ID string `json:"id"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(out, &shown); err != nil {
		return fmt.Errorf("spiretest: unexpected answer from entry show: %q (%v)", out, err)
	}
	if len(shown.Entries) == 0 {
		return fmt.Errorf("spiretest: delete %s: no entry has this SPIFFE ID", id)
	}
	for _, e := range shown.Entries {
		out, err := s.serverCLI(ctx, "entry", "delete", "-entryID", e.ID, "-output", "json")
		if err != nil {
			return err
		}
		if err := batchResult(out, "delete "+id.String()); err != nil {
			return err
		}
	}
	return nil
}

// batchResult checks the JSON answer of a single-entry batch command.
func batchResult(out []byte, what string) error {
	var resp struct {
		Results []struct {
			Status struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"status"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.Results) != 1 {
		return fmt.Errorf("spiretest: %s: unexpected answer %q (%v)", what, out, err)
	}
	if st := resp.Results[0].Status; st.Code != 0 {
		return fmt.Errorf("spiretest: %s: code %d: %s", what, st.Code, st.Message)
	}
	return nil
}

// Bundle returns the server's current X.509 trust bundle, the authorities
// every SVID it issues chains to.
func (s *SPIRE) Bundle(ctx context.Context) (*x509bundle.Bundle, error) {
	out, err := s.serverCLI(ctx, "bundle", "show", "-format", "pem")
	if err != nil {
		return nil, err
	}
	b, err := x509bundle.Parse(s.td, out)
	if err != nil {
		return nil, fmt.Errorf("spiretest: parse bundle show output: %w", err)
	}
	return b, nil
}
