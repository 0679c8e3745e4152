package proctest

import "syscall"

// sysProcAttr puts the program in its own process group, so that Stop
// reaches all of it, and has the kernel kill it if the test binary dies
// first (a test timeout, a crash) so that no program outlives its test. The
// kernel ties Pdeathsig to the starting thread, which the Go runtime keeps
// alive unless a goroutine locked to it exits; tests do not do that.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
