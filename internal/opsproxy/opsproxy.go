// Package opsproxy shows the part of a service's operational listener that
// may be seen beyond its host: /metrics, /healthz and /readyz, read with
// GET. The operational listener itself (internal/obs) must listen on
// loopback, because it also serves /debug/pprof, which exposes memory
// contents. Where the scraper and the health checks are not on the same
// host (a Kubernetes pod, a compose network), this proxy runs beside the
// service, in the same network namespace (a sidecar): it forwards those
// three paths to the loopback listener and refuses everything else, so
// pprof never faces the network. docs/deploy.md, "Operational endpoints".
//
// Refusals are answered 404 or 405, counted in
// cw_opsproxy_refused_total{reason} (path, method) and logged at most once
// a minute per reason; failures to reach the service answer 502 and are
// counted as reason unreachable. The proxy's own counters are served at
// /opsproxy/metrics.
package opsproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cradlewatch/cradlewatch/access/web"
)

// Paths passed on to the service.
var Paths = []string{"/metrics", "/healthz", "/readyz"}

// OwnMetricsPath serves the proxy's own counters.
const OwnMetricsPath = "/opsproxy/metrics"

// DefaultTimeout bounds one forwarded request.
const DefaultTimeout = 10 * time.Second

// maxBody bounds an answer passed on (a large /metrics page is a few MiB).
const maxBody = 64 << 20

// Options configure a Proxy.
type Options struct {
	Listen string // where the proxy listens (":9112": the pod's address)
	// Target is the service's operational listener; it must be loopback
	// ("127.0.0.1:9102").
	Target  string
	Timeout time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Proxy forwards the safe operational paths.
type Proxy struct {
	o       Options
	client  *http.Client
	reg     *prometheus.Registry
	refused *prometheus.CounterVec
	warn    *web.LogThrottle
	srv     *web.Server
}

// New checks the options and binds the listener.
func New(o Options) (*Proxy, error) {
	if err := web.CheckLoopback(o.Target); err != nil {
		return nil, fmt.Errorf("opsproxy: target: %w", err)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Proxy{o: o, client: &http.Client{Timeout: o.Timeout}, reg: prometheus.NewRegistry(),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_opsproxy_refused_total",
			Help: "Requests refused by the operational proxy, by reason (path: not /metrics, /healthz or /readyz, pprof among them; method: not GET or HEAD; unreachable: the service did not answer)."},
			[]string{"reason"}),
		warn: web.NewLogThrottle(o.Logger.With("component", "opsproxy"), time.Minute, o.Now)}
	p.reg.MustRegister(p.refused)
	var err error
	if p.srv, err = web.NewServer(web.ServerOptions{Addr: o.Listen, Handler: p.Handler(), Logger: o.Logger}); err != nil {
		return nil, err
	}
	if err := p.srv.Listen(); err != nil {
		return nil, fmt.Errorf("opsproxy: listen %s: %w", o.Listen, err)
	}
	return p, nil
}

// Addr is the bound address.
func (p *Proxy) Addr() string { return p.srv.Addr() }

// Run serves until ctx ends.
func (p *Proxy) Run(ctx context.Context) error { return p.srv.Run(ctx) }

// Close releases the listener if Run never ran.
func (p *Proxy) Close() error { return p.srv.Close() }

// Handler is the proxy's routing.
func (p *Proxy) Handler() http.Handler {
	own := promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == OwnMetricsPath && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			own.ServeHTTP(w, r)
		case !slices.Contains(Paths, r.URL.Path):
			p.refuse(w, r, "path", http.StatusNotFound)
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			p.refuse(w, r, "method", http.StatusMethodNotAllowed)
		default:
			p.forward(w, r)
		}
	})
}

func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, reason string, status int) {
	p.refused.WithLabelValues(reason).Inc()
	p.warn.Warn(reason, "operational request refused", "reason", reason, "method", r.Method, "path", r.URL.Path, "source", r.RemoteAddr)
	http.Error(w, http.StatusText(status), status)
}

// forward asks the service for the path (never the query string: the
// three paths take none) and passes the status, content type and body on.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+p.o.Target+r.URL.Path, nil)
	if err == nil {
		if a := r.Header.Get("Accept"); a != "" {
			req.Header.Set("Accept", a) // Prometheus negotiates the exposition format
		}
		var resp *http.Response
		if resp, err = p.client.Do(req); err == nil {
			defer resp.Body.Close()
			for _, h := range []string{"Content-Type", "Content-Encoding"} {
				if v := resp.Header.Get(h); v != "" {
					w.Header().Set(h, v)
				}
			}
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, io.LimitReader(resp.Body, maxBody))
			return
		}
	}
	if errors.Is(r.Context().Err(), context.Canceled) {
		return
	}
	p.refused.WithLabelValues("unreachable").Inc()
	p.warn.Warn("unreachable", "operational listener did not answer", "target", p.o.Target, "err", err)
	http.Error(w, "service unreachable", http.StatusBadGateway)
}
