package centrebroker

import "syscall"

// childAttr makes the broker receive SIGTERM when the supervisor dies.
// (Linux sends it when the thread that started the child ends; Go keeps
// its threads for the life of the process unless a goroutine locked to one
// exits, which nothing here does.)
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
