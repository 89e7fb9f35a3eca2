package pathbench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Process life-cycle bounds.
const (
	stopGrace   = 15 * time.Second
	listenWait  = 30 * time.Second
	listenProbe = 50 * time.Millisecond
)

// child is a process the harness started; its output goes to a log file.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	log     *os.File
	done    chan struct{}
	err     error // exit status, valid after done
}

// startChild runs bin with args in dir. The kernel kills the child when the
// harness dies (Pdeathsig), so a crashed or interrupted run leaves nothing
// behind.
func startChild(name, bin, dir, logPath string, args ...string) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("pathbench: %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("pathbench: start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, log: f, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

// Pid is the child's process ID.
func (c *child) Pid() int { return c.cmd.Process.Pid }

// alive reports an error if the child has exited.
func (c *child) alive() error {
	select {
	case <-c.done:
		return fmt.Errorf("pathbench: %s exited (%v); log %s:\n%s", c.name, c.err, c.logPath, c.tail())
	default:
		return nil
	}
}

// stop sends SIGTERM, waits up to stopGrace, then SIGKILLs. It reports
// whether the child ended within the grace period.
func (c *child) stop() bool {
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = c.cmd.Process.Kill()
	}
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-c.done:
		return true
	case <-t.C:
	}
	_ = c.cmd.Process.Kill()
	<-c.done
	return false
}

// tail returns the end of the child's log, for error messages.
func (c *child) tail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// waitListening polls addr until it accepts a TCP connection, the child
// exits or listenWait passes.
func (c *child) waitListening(addr string) error {
	deadline := time.NewTimer(listenWait)
	defer deadline.Stop()
	tick := time.NewTicker(listenProbe)
	defer tick.Stop()
	for {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-c.done:
			return c.alive()
		case <-deadline.C:
			return fmt.Errorf("pathbench: %s not listening on %s after %v; log:\n%s", c.name, addr, listenWait, c.tail())
		case <-tick.C:
		}
	}
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before our child binds it; the child then fails to start and the
// run says so.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pathbench: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
