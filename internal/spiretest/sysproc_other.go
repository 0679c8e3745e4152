//go:build unix && !linux

package spiretest

import "syscall"

// sysProcAttr puts the program in its own process group, so that stop
// reaches all of it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
