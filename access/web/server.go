package web

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/obs"
)

// Server defaults: a slow or stalled client cannot hold a connection.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 32 << 10
)

// ServerOptions configure an HTTP listener.
type ServerOptions struct {
	Addr    string
	Handler http.Handler
	// CertFile and KeyFile (PEM) serve TLS (1.2 and up); both or neither.
	// Without them, terminate TLS in front (docs/security.md).
	CertFile, KeyFile string
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	Logger            *slog.Logger
}

// Server is an http.Server with the defaults above.
type Server struct {
	srv *http.Server
	o   ServerOptions
	ln  net.Listener
}

// NewServer checks the options (the certificate is loaded now, so a bad
// one stops the start).
func NewServer(o ServerOptions) (*Server, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{Addr: o.Addr, Handler: o.Handler, ReadHeaderTimeout: o.ReadHeaderTimeout, ReadTimeout: o.ReadTimeout,
		WriteTimeout: o.WriteTimeout, IdleTimeout: o.IdleTimeout, MaxHeaderBytes: DefaultMaxHeaderBytes,
		ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)}
	switch {
	case (o.CertFile == "") != (o.KeyFile == ""):
		return nil, errors.New("web: TLS needs both a certificate and a key file")
	case o.CertFile != "":
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("web: TLS: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	return &Server{srv: srv, o: o}, nil
}

// Listen binds the address.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return fmt.Errorf("web: listen %s: %w", s.o.Addr, err)
	}
	if s.srv.TLSConfig != nil {
		ln = tls.NewListener(ln, s.srv.TLSConfig)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address after Listen.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Run serves until ctx is cancelled, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	return obs.Serve(ctx, s.srv, s.ln, nil)
}

// CheckLoopback refuses an address that is not on loopback, for the
// operational listener (/metrics, /debug/pprof): "127.0.0.1:9100" and
// "[::1]:9100" pass, ":9100" and "0.0.0.0:9100" do not.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address: the operational endpoints (metrics, pprof) must listen on 127.0.0.1 or ::1", addr)
	}
	return nil
}

// DecodeJSON reads a JSON request body into v, refusing unknown fields and
// trailing data. A body over the front's limit answers 413; anything
// malformed 400. It reports whether v was filled; when not, the answer
// is written.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON value")
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		Error(w, http.StatusRequestEntityTooLarge, "request body too large")
		return false
	case err != nil:
		Error(w, http.StatusBadRequest, "bad request: "+err.Error())
		return false
	}
	return true
}

// Close releases the listener bound by Listen when the server will not
// Run (a service whose start failed after binding); Run's shutdown closes
// it otherwise. Closing twice is harmless.
func (s *Server) Close() error {
	if s.ln == nil {
		return nil
	}
	err := s.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
