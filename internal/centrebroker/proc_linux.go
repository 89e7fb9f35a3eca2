package centrebroker

import "syscall"

// childAttr makes the broker receive SIGTERM when the supervisor dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
