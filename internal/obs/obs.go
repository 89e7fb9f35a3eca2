// Package obs serves the operational endpoints every CradleWatch service
// has: /metrics (Prometheus), /healthz (the process runs) and /readyz (its
// dependencies answer), and builds the service logger.
package obs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// shutdownGrace bounds how long in-flight HTTP requests may take at shutdown.
const shutdownGrace = 5 * time.Second

// NewRegistry returns a registry with the Go runtime and process collectors,
// which every service exposes.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// NewLogger builds the process logger: JSON or text on w at level
// ("debug", "info", "warn", "error").
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

// Readiness collects named checks; /readyz answers 200 only when all pass.
type Readiness struct {
	mu     sync.Mutex
	checks map[string]func() error
}

// Set registers or replaces a named check.
func (r *Readiness) Set(name string, check func() error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.checks == nil {
		r.checks = map[string]func() error{}
	}
	r.checks[name] = check
}

// Check runs every check and joins their errors.
func (r *Readiness) Check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for name, c := range r.checks {
		if err := c(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Server is the operational HTTP server. Extra handlers (an acknowledgement
// API, for example) are added with Handle before Run.
type Server struct {
	Addr     string
	Gatherer prometheus.Gatherer
	Ready    *Readiness
	Logger   *slog.Logger
	mux      *http.ServeMux
	ln       net.Listener
}

// Handle adds a handler to the server's mux.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.init()
	s.mux.Handle(pattern, h)
}

func (s *Server) init() {
	if s.mux != nil {
		return
	}
	s.mux = http.NewServeMux()
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))
	// Go's profiler, for finding where a slow box spends its time. The
	// operational port listens on loopback unless configured otherwise.
	s.mux.HandleFunc("/debug/pprof/", pprof.Index)
	s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.Ready != nil {
			if err := s.Ready.Check(); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		io.WriteString(w, "ready\n")
	})
}

// Listen binds the address (":0" picks a free port; see ListenAddr).
func (s *Server) Listen() error {
	s.init()
	if s.Addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("http: listen %s: %w", s.Addr, err)
	}
	s.ln = ln
	return nil
}

// Close releases the address bound by Listen when Run has not served it
// (Run releases it itself when it returns). Idempotent; not to be called
// while Run runs.
func (s *Server) Close() error {
	if s.ln == nil {
		return nil
	}
	err := s.ln.Close()
	s.ln = nil
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// ListenAddr is the bound address after Listen, "" when disabled.
func (s *Server) ListenAddr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Run serves until ctx is cancelled. An empty Addr disables the server.
func (s *Server) Run(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
		if s.ln == nil {
			<-ctx.Done()
			return nil
		}
	}
	return Serve(ctx, &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}, s.ln, nil)
}

// Serve runs srv on ln until ctx is cancelled, then shuts it down, giving
// requests in flight shutdownGrace to finish. serve, when not nil, starts
// the server instead of srv.Serve (srv.ServeTLS with certificates, say).
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, serve func(net.Listener) error) error {
	if serve == nil {
		serve = srv.Serve
	}
	errc := make(chan error, 1)
	go func() { errc <- serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	return err
}

// Stderr is where mains send logs.
var Stderr io.Writer = os.Stderr
