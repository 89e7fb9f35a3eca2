package chaos

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/cradlewatch/cradlewatch/bench/pathbench"
)

// childAttr makes the kernel kill a child when the harness dies, so a
// crashed or interrupted run leaves no process behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// peakRSS is a process's largest resident set so far (VmHWM), in bytes.
func peakRSS(pid int) (int64, error) {
	s, err := pathbench.ReadProc("/proc", pid)
	return s.PeakRSS, err
}

// childOf is the first child process of pid, 0 for none. Each thread
// lists the children it forked (a Go program forks from any of them).
func childOf(pid int) int {
	if pid == 0 {
		return 0
	}
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(bytes.TrimSpace(b))); len(f) > 0 {
			c, _ := strconv.Atoi(f[0])
			return c
		}
	}
	return 0
}
