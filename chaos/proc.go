package chaos

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a stop waits after SIGTERM before SIGKILL (the
// services' TimeoutStopSec is 30 s; a chaos run wants it shorter).
const stopGrace = 20 * time.Second

// proc is a service under supervision, as systemd runs it with
// Restart=always: when it exits for any reason while it should run, it is
// started again after restartSec. Faults kill or signal it; Stop ends it
// (until Start); Close ends the supervision.
type proc struct {
	name       string
	bin        string
	args       []string
	env        func() []string // extra environment for each start; nil for none
	logPath    string
	restartSec time.Duration
	log        *slog.Logger

	once     sync.Once
	wake     chan struct{}
	quit     chan struct{}
	loopDone chan struct{}

	mu       sync.Mutex
	want     bool // should run
	cmd      *exec.Cmd
	done     chan struct{} // closed when the current process exited
	expect   bool          // the next exit was asked for
	starts   int
	exits    []exitRecord
	peakRSS  int64
	down     []interval // from an exit to the next start
	downFrom time.Time
}

// exitRecord is one end of the process.
type exitRecord struct {
	At       time.Time
	Code     int    // exit status, -1 for a signal
	Signal   string // the signal that ended it
	Expected bool   // a fault or a stop asked for it
}

// interval is a span of wall time.
type interval struct{ Start, End time.Time }

func (iv interval) overlaps(from, to time.Time) bool {
	return !iv.End.Before(from) && !iv.Start.After(to)
}

func newProc(name, bin, logPath string, restartSec time.Duration, log *slog.Logger, args ...string) *proc {
	return &proc{name: name, bin: bin, args: args, logPath: logPath, restartSec: restartSec, log: log.With("proc", name),
		wake: make(chan struct{}, 1), quit: make(chan struct{}), loopDone: make(chan struct{})}
}

// Start makes the process run, now if it does not, and keeps it running.
func (p *proc) Start() error {
	p.mu.Lock()
	p.want = true
	p.mu.Unlock()
	p.once.Do(func() { go p.loop() })
	return p.launch()
}

// launch starts the process unless it runs.
func (p *proc) launch() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("chaos: %s: %w", p.name, err)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = os.Environ()
	if p.env != nil {
		cmd.Env = append(cmd.Env, p.env()...)
	}
	cmd.SysProcAttr = childAttr()
	fmt.Fprintf(f, "--- chaos: %s start: %s %s\n", time.Now().Format("15:04:05.000"), p.bin, strings.Join(p.args, " "))
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("chaos: start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	p.starts++
	if !p.downFrom.IsZero() {
		p.down = append(p.down, interval{Start: p.downFrom, End: time.Now()})
		p.downFrom = time.Time{}
	}
	go p.wait(cmd, f, done)
	return nil
}

// wait records the process's end and wakes the restart loop.
func (p *proc) wait(cmd *exec.Cmd, f *os.File, done chan struct{}) {
	_ = cmd.Wait()
	rec := exitRecord{At: time.Now(), Code: cmd.ProcessState.ExitCode()}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		rec.Signal = ws.Signal().String()
	}
	fmt.Fprintf(f, "--- chaos: %s exit: code %d %s\n", rec.At.Format("15:04:05.000"), rec.Code, rec.Signal)
	f.Close()
	p.mu.Lock()
	rec.Expected = p.expect
	p.expect = false
	p.exits = append(p.exits, rec)
	p.cmd = nil
	p.downFrom = rec.At
	p.mu.Unlock()
	close(done)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// loop restarts the process restartSec after it exited, while wanted.
func (p *proc) loop() {
	defer close(p.loopDone)
	for {
		select {
		case <-p.quit:
			return
		case <-p.wake:
		}
		if !p.wanted() {
			continue
		}
		t := time.NewTimer(p.restartSec)
		select {
		case <-p.quit:
			t.Stop()
			return
		case <-t.C:
		}
		if p.wanted() {
			if err := p.launch(); err != nil {
				p.log.Error("restart failed", "err", err)
				select {
				case p.wake <- struct{}{}:
				default:
				}
			}
		}
	}
}

func (p *proc) wanted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.want && p.cmd == nil
}

// Signal sends sig to the running process (expected: the exit it causes
// was asked for) and reports whether one ran.
func (p *proc) Signal(sig syscall.Signal, expected bool) (done <-chan struct{}, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil, false
	}
	p.sampleLocked()
	if expected {
		p.expect = true
	}
	_ = p.cmd.Process.Signal(sig)
	return p.done, true
}

// Kill ends the process with SIGKILL and waits for it; the supervisor
// starts it again after restartSec.
func (p *proc) Kill() bool {
	done, ok := p.Signal(syscall.SIGKILL, true)
	if ok {
		<-done
	}
	return ok
}

// Stop ends the process (SIGTERM, SIGKILL after stopGrace) and keeps it
// stopped until Start.
func (p *proc) Stop() {
	p.mu.Lock()
	p.want = false
	p.mu.Unlock()
	done, ok := p.Signal(syscall.SIGTERM, true)
	if !ok {
		return
	}
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	p.log.Warn("ignored SIGTERM; killing it", "grace", stopGrace)
	if done, ok := p.Signal(syscall.SIGKILL, true); ok {
		<-done
	}
}

// Close stops the process for good and ends the supervision.
func (p *proc) Close() {
	p.Stop()
	p.once.Do(func() { close(p.loopDone) }) // never started
	select {
	case <-p.quit:
	default:
		close(p.quit)
	}
	<-p.loopDone
}

// Running reports whether the process runs now.
func (p *proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Pid is the running process's ID, 0 when none runs.
func (p *proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// sample updates the peak resident set from /proc.
func (p *proc) sample() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sampleLocked()
}

func (p *proc) sampleLocked() {
	if p.cmd == nil {
		return
	}
	if hwm, err := peakRSS(p.cmd.Process.Pid); err == nil && hwm > p.peakRSS {
		p.peakRSS = hwm
	}
}

// procStats is what the report says of a process.
type procStats struct {
	Name       string
	Starts     int
	Unexpected []exitRecord // exits nobody asked for
	PeakRSS    int64
	Down       []interval
}

func (p *proc) stats() procStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := procStats{Name: p.name, Starts: p.starts, PeakRSS: p.peakRSS, Down: append([]interval(nil), p.down...)}
	if !p.downFrom.IsZero() {
		s.Down = append(s.Down, interval{Start: p.downFrom, End: time.Now()})
	}
	for _, e := range p.exits {
		if !e.Expected {
			s.Unexpected = append(s.Unexpected, e)
		}
	}
	return s
}
