package hosttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// commandTimeout bounds every ip and nft command.
const commandTimeout = 15 * time.Second

// tools are the paths of the commands a lab runs.
type tools struct {
	ip, nft string
}

// findTools returns the ip and nft commands, or why a lab cannot run here.
// $WEFT_NFT (set by scripts/install-packages) names nft; $WEFT_NFT_MISSING
// says why it could not be installed.
func findTools() (tools, string) {
	if uid := os.Geteuid(); uid != 0 {
		return tools{}, fmt.Sprintf("hosttest: a lab needs root to create network namespaces (running as uid %d)", uid)
	}
	var t tools
	var err error
	if t.ip, err = exec.LookPath("ip"); err != nil {
		return tools{}, "hosttest: the ip command (Debian package iproute2) is not installed"
	}
	if why := os.Getenv("WEFT_NFT_MISSING"); why != "" {
		return tools{}, "hosttest: nft (Debian package nftables) is missing: " + why
	}
	if t.nft = os.Getenv("WEFT_NFT"); t.nft == "" {
		if t.nft, err = exec.LookPath("nft"); err != nil {
			return tools{}, `hosttest: the nft command (Debian package nftables) is not installed: run eval "$(scripts/install-packages)"`
		}
	}
	return t, ""
}

// run runs a command and returns its error with its output.
func run(name string, args ...string) error {
	return runInput(nil, name, args...)
}

func runInput(stdin []byte, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// netnsDir is where ip keeps the names of network namespaces.
const netnsDir = "/run/netns"

// labName matches the namespaces labs make; the first group is the pid of
// the test process that made them.
var labName = regexp.MustCompile(`^weft-([0-9]+)-[0-9]+-`)

// buildDirPrefix starts the names of the directories the node program is
// built in, followed by the test process's pid.
const buildDirPrefix = "weft-hosttest-"

var reapOnce sync.Once

// reap runs reapLeftovers once per test process.
func reap(ip string) error {
	var err error
	reapOnce.Do(func() { err = reapLeftovers(ip) })
	return err
}

// reapLeftovers deletes what labs of test processes that no longer run
// left behind: namespaces (after killing what still runs in them) and
// build directories. It returns what it could not delete.
func reapLeftovers(ip string) error {
	var errs []error
	entries, _ := os.ReadDir(netnsDir) // none yet: nothing to reap
	for _, e := range entries {
		m := labName.FindStringSubmatch(e.Name())
		if m == nil || alive(m[1]) {
			continue
		}
		if err := deleteNamespace(ip, e.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	dirs, _ := os.ReadDir(os.TempDir())
	for _, d := range dirs {
		if pid, ok := strings.CutPrefix(d.Name(), buildDirPrefix); ok && !alive(pid) {
			if err := os.RemoveAll(filepath.Join(os.TempDir(), d.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// alive reports whether the process pid runs.
func alive(pid string) bool {
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return false
	}
	if n == os.Getpid() {
		return true
	}
	err = syscall.Kill(n, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// deleteNamespace kills every process in the namespace ns and deletes it.
// A namespace that does not exist is fine.
func deleteNamespace(ip, ns string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, ns)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	out, err := exec.Command(ip, "netns", "pids", ns).Output()
	if err == nil {
		for f := range strings.FieldsSeq(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL) // gone already is fine
			}
		}
	}
	// A namespace lives on while a process in it is still being torn
	// down; deleting its name is what matters, and it does not wait.
	return run(ip, "netns", "delete", ns)
}
