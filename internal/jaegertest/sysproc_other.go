//go:build unix && !linux

package jaegertest

import "syscall"

// sysProcAttr puts Jaeger in its own process group, so that stopping it
// reaches all of it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
