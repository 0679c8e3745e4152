//go:build unix && !linux

package proctest

import "syscall"

// sysProcAttr puts the program in its own process group, so that Stop
// reaches all of it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
