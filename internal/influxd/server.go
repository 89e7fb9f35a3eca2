package influxd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Timeouts of the server's life cycle.
const (
	// ReadyTimeout bounds the wait for /ping after a start. A cold start on a
	// busy two-core CI machine takes a few seconds; a minute means broken.
	ReadyTimeout = 60 * time.Second
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL.
	StopGrace = 10 * time.Second
	// readyPoll is the interval between /ping attempts.
	readyPoll = 50 * time.Millisecond
	// bindAttempts is how often Start picks fresh ports when another process
	// took a port between freePort and influxd's bind.
	bindAttempts = 3
)

// Options configures Start.
type Options struct {
	// Binary is the influxd executable (see Binary and Lookup).
	Binary string
	// DataDir holds the configuration, meta, data and wal directories. It is
	// created if missing and kept by Stop, so Restart finds the data again.
	DataDir string
	// Logger receives life-cycle events; nil discards them.
	Logger *slog.Logger
	// Stdout, when set, receives influxd's stdout and stderr (for example a
	// test log writer). The last few kilobytes are kept either way and
	// appear in errors when the server dies.
	Stdout io.Writer
}

// Server is a running (or stopped, restartable) influxd process. Its
// methods are safe for concurrent use.
type Server struct {
	opts     Options
	logger   *slog.Logger
	lay      layout
	httpPort int
	rpcPort  int
	url      string
	client   *http.Client
	out      *tail

	mu   sync.Mutex
	proc *process // nil when not running
}

// process is one run of influxd.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // exit status, valid after done
}

// Start writes a configuration for free loopback ports under opts.DataDir,
// starts influxd and returns once /ping answers 204. It creates no database.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Binary == "" || opts.DataDir == "" {
		return nil, errors.New("influxd: start: Binary and DataDir are required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:   opts,
		logger: logger.With("component", "influxd"),
		lay:    layoutOf(opts.DataDir),
		// A private transport, so that Stop can close its idle connections
		// and goleak in callers' tests sees no keep-alive goroutines.
		client: &http.Client{Transport: &http.Transport{}},
		out:    &tail{fwd: opts.Stdout},
	}
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("influxd: start: %w", err)
	}
	var err error
	for range bindAttempts {
		if s.httpPort, err = freePort(); err != nil {
			return nil, err
		}
		if s.rpcPort, err = freePort(); err != nil {
			return nil, err
		}
		s.url = "http://" + hostPort(s.httpPort)
		if err = os.WriteFile(s.lay.config, []byte(renderConfig(s.lay, s.httpPort, s.rpcPort)), 0o644); err != nil {
			return nil, fmt.Errorf("influxd: start: write config: %w", err)
		}
		s.mu.Lock()
		err = s.launch(ctx)
		s.mu.Unlock()
		if err == nil || !strings.Contains(s.out.String(), "address already in use") {
			break
		}
		s.logger.Warn("port taken before influxd bound it; retrying with new ports", "err", err)
	}
	if err != nil {
		s.client.CloseIdleConnections()
		return nil, err
	}
	return s, nil
}

// URL is the server's HTTP address, http://127.0.0.1:<port>. It stays the
// same across Restart.
func (s *Server) URL() string { return s.url }

// DataDir is the directory given in Options.
func (s *Server) DataDir() string { return s.opts.DataDir }

// launch starts the process and waits for readiness; s.mu is held.
func (s *Server) launch(ctx context.Context) error {
	s.out.reset()
	cmd := exec.Command(s.opts.Binary, "-config", s.lay.config)
	cmd.Stdout = s.out
	cmd.Stderr = s.out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("influxd: start %s: %w", s.opts.Binary, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p
	s.logger.Info("influxd started", "pid", cmd.Process.Pid, "url", s.url, "data_dir", s.opts.DataDir)
	if err := s.waitReady(ctx, p); err != nil {
		s.kill()
		return err
	}
	return nil
}

// waitReady polls /ping until it answers 204, the process dies, ctx ends or
// ReadyTimeout passes.
func (s *Server) waitReady(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		if s.ping(ctx) == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("influxd: exited before answering /ping (%v); output:\n%s", p.err, s.out.String())
		case <-ctx.Done():
			return fmt.Errorf("influxd: not ready at %s: %w; output:\n%s", s.url, ctx.Err(), s.out.String())
		case <-tick.C:
		}
	}
}

// ping asks /ping once.
func (s *Server) ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/ping", nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("ping: status %s", resp.Status)
	}
	return nil
}

// Ping reports whether the server answers /ping with 204.
func (s *Server) Ping(ctx context.Context) error {
	if err := s.ping(ctx); err != nil {
		return fmt.Errorf("influxd: %w", err)
	}
	return nil
}

// Stop ends the server with SIGTERM, then SIGKILL if it has not exited
// after StopGrace. The data directory is kept. Stopping a stopped server
// does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.client.CloseIdleConnections()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("influxd: stop: %w", err)
	}
	timer := time.NewTimer(StopGrace)
	defer timer.Stop()
	select {
	case <-p.done:
		s.logger.Info("influxd stopped", "exit", p.err)
		return nil
	case <-timer.C:
	}
	s.logger.Warn("influxd ignored SIGTERM; killing it", "grace", StopGrace)
	_ = p.cmd.Process.Kill()
	<-p.done
	return nil
}

// Kill ends the server with SIGKILL at once, as a crash or power loss would,
// and waits for the process to be gone. For failure tests.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
	s.client.CloseIdleConnections()
}

// kill is Kill with s.mu held.
func (s *Server) kill() {
	p := s.proc
	if p == nil {
		return
	}
	s.proc = nil
	_ = p.cmd.Process.Kill()
	<-p.done
	s.logger.Info("influxd killed")
}

// Restart starts the server again on the same port and data directory,
// stopping it first if it still runs; for "InfluxDB was down" tests. It
// fails if something else took the port meanwhile.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("influxd: restart: started concurrently")
	}
	return s.launch(ctx)
}

// Running reports whether the process is up (not whether it is ready).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return false
	}
	select {
	case <-s.proc.done:
		return false
	default:
		return true
	}
}
