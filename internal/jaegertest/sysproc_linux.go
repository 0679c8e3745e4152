package jaegertest

import "syscall"

// sysProcAttr puts Jaeger in its own process group, so that stopping it
// reaches all of it, and has the kernel kill it if the test binary dies
// first (a test timeout, a crash) so that no Jaeger outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
