package centrebroker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// StopGrace is how long Supervise waits for the broker after SIGTERM
// before it kills it. Mosquitto saves its persistence file on SIGTERM,
// which takes a while with a large queue.
const StopGrace = 60 * time.Second

// maxLogLine bounds one log line (a PUBLISH line quotes its topic, at most
// 64 KiB in MQTT).
const maxLogLine = 128 << 10

// SuperviseOptions configures Supervise.
type SuperviseOptions struct {
	// Command is the broker and its arguments, e.g. /usr/sbin/mosquitto
	// -c /etc/mosquitto/mosquitto.conf. Its configuration must log to
	// standard error with log_type debug and subscribe (deploy/mosquitto).
	Command []string
	// Watcher reads the broker's output.
	Watcher *Watcher
	// Signals are forwarded to the broker (SIGHUP: reload the password
	// and ACL files and reopen logs).
	Signals <-chan os.Signal
	// Logger records the broker's start and exit.
	Logger *slog.Logger
	// Started, when set, is called with the broker's process ID.
	Started func(pid int)
}

// Supervise runs the broker with its standard output and error on a pipe
// into the Watcher until it exits or ctx ends (then it stops the broker
// with SIGTERM, and SIGKILL after StopGrace). It returns the broker's exit
// error; nil after a stop it asked for. The broker dies with the
// supervisor (Linux: parent-death signal), so a service manager restarts
// both together and the broker never runs unwatched.
func Supervise(ctx context.Context, o SuperviseOptions) error {
	if len(o.Command) == 0 || o.Watcher == nil {
		return errors.New("centrebroker: supervise: Command and Watcher are required")
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("centrebroker: %w", err)
	}
	cmd := exec.Command(o.Command[0], o.Command[1:]...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("centrebroker: start %s: %w", o.Command[0], err)
	}
	w.Close() // the child holds the write end now
	logger.Info("broker started", "pid", cmd.Process.Pid, "command", o.Command)
	if o.Started != nil {
		o.Started(cmd.Process.Pid)
	}
	read := make(chan error, 1)
	go func() { read <- readLines(r, o.Watcher) }()
	exited := make(chan error, 1)
	go func() {
		err := <-read // EOF once the broker (the only writer) is gone
		r.Close()
		werr := cmd.Wait()
		if werr == nil && err != nil {
			werr = err
		}
		exited <- werr
	}()
	stopping := false
	var grace <-chan time.Time
	for {
		select {
		case err := <-exited:
			if stopping {
				logger.Info("broker stopped", "exit", err)
				return nil
			}
			logger.Error("broker exited", "err", err)
			if err == nil {
				err = errors.New("exited")
			}
			return fmt.Errorf("centrebroker: %s: %w", o.Command[0], err)
		case s := <-o.Signals:
			_ = cmd.Process.Signal(s)
		case <-ctx.Done():
			if !stopping {
				stopping = true
				_ = cmd.Process.Signal(syscall.SIGTERM)
				t := time.NewTimer(StopGrace)
				defer t.Stop()
				grace = t.C
			}
		case <-grace:
			logger.Warn("broker ignored SIGTERM; killing it", "grace", StopGrace)
			_ = cmd.Process.Kill()
		}
	}
}

// readLines feeds r to the watcher line by line until EOF.
func readLines(r io.Reader, wt *Watcher) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLogLine)
	for sc.Scan() {
		wt.Line(sc.Text())
	}
	if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
		// A line longer than maxLogLine: keep reading the rest.
		_, _ = io.Copy(io.Discard, r)
		return err
	}
	return nil
}
