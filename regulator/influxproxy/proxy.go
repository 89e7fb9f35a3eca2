package influxproxy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/obs"
)

// Options carry the proxy's configuration and dependencies.
type Options struct {
	Config Config
	// Resolver maps logins to regions; nil: the one Config.UsersSource
	// names (OpenUsers), which the proxy then owns and closes.
	Resolver Resolver
	Logger   *slog.Logger
	// Registerer receives the proxy's metrics; nil: a private registry.
	Registerer prometheus.Registerer
	// Gatherer is served on the operational listener; nil disables it.
	Gatherer prometheus.Gatherer
	// Transport carries requests to InfluxDB; nil: a transport of its own.
	Transport http.RoundTripper
	// Clock times requests; nil: time.Now.
	Clock func() time.Time
}

// Proxy is the InfluxQL region proxy: an InfluxDB 1.x /query endpoint for
// Grafana that limits every query to the requesting user's region.
type Proxy struct {
	cfg      Config
	scope    *Scope
	resolver Resolver
	log      *slog.Logger
	m        *metrics
	once     onceLog
	client   *http.Client
	clock    func() time.Time
	secret   [2][sha256.Size]byte // user, password
	ln       net.Listener
	ops      *obs.Server
	ready    obs.Readiness
	users    *Users // the resolver New opened, closed by Close; nil when given
	// upstreamDown is set while InfluxDB does not answer.
	upstreamDown atomic.Bool

	closeOnce sync.Once
}

// New checks the configuration, loads the users file when no Resolver is
// given and binds the listeners; Run serves them.
func New(o Options) (*Proxy, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 16
		o.Transport = t
	}
	scope, err := NewScope(o.Config.Database, append(DefaultMeasurements(), o.Config.ExtraMeasurements...))
	if err != nil {
		return nil, err
	}
	var owned *Users
	if o.Resolver == nil {
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		u, err := OpenUsers(ctx, o.Config, o.Logger, o.Registerer)
		cancel()
		if err != nil {
			return nil, err
		}
		o.Resolver, owned = u, u
		o.Logger.Info("logins mapped to regions by the "+u.Source, "component", "influxproxy")
	}
	fail := func(err error) (*Proxy, error) {
		if owned != nil {
			owned.Close()
		}
		return nil, err
	}
	p := &Proxy{
		cfg:      o.Config,
		scope:    scope,
		resolver: o.Resolver,
		log:      o.Logger.With("component", "influxproxy"),
		m:        newMetrics(o.Registerer),
		client:   &http.Client{Transport: o.Transport},
		clock:    o.Clock,
		secret: [2][sha256.Size]byte{
			sha256.Sum256([]byte(o.Config.GrafanaAuth.User)),
			sha256.Sum256([]byte(o.Config.GrafanaAuth.Password)),
		},
	}
	p.ready.Set("influxdb", p.pingUpstream)
	if owned != nil && owned.ping != nil {
		p.ready.Set("access database", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return owned.Ping(ctx)
		})
	}
	p.users = owned
	ln, err := net.Listen("tcp", o.Config.Listen)
	if err != nil {
		return fail(fmt.Errorf("influxproxy: listen %s: %w", o.Config.Listen, err))
	}
	p.ln = ln
	if o.Gatherer != nil && o.Config.HTTP.Listen != "" {
		p.ops = &obs.Server{Addr: o.Config.HTTP.Listen, Gatherer: o.Gatherer, Ready: &p.ready, Logger: p.log}
		if err := p.ops.Listen(); err != nil {
			ln.Close()
			return fail(err)
		}
	}
	return p, nil
}

// openTimeout bounds opening the access database at start.
const openTimeout = 30 * time.Second

// Addr is the bound Grafana-facing address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// OpsAddr is the bound operational address, "" when disabled.
func (p *Proxy) OpsAddr() string {
	if p.ops == nil {
		return ""
	}
	return p.ops.ListenAddr()
}

// Run serves until ctx ends.
func (p *Proxy) Run(ctx context.Context) error {
	g := obs.NewGroup(ctx)
	g.Go("proxy", func(ctx context.Context) error {
		srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(p.log.Handler(), slog.LevelWarn)}
		var serve func(net.Listener) error
		if p.cfg.TLS.CertFile != "" {
			serve = func(ln net.Listener) error { return srv.ServeTLS(ln, p.cfg.TLS.CertFile, p.cfg.TLS.KeyFile) }
		}
		return obs.Serve(ctx, srv, p.ln, serve)
	})
	if p.ops != nil {
		g.Go("operational http", p.ops.Run)
	}
	p.log.Info("influxproxy serving", "listen", p.Addr(), "upstream", p.cfg.Upstream.URL, "database", p.cfg.Database, "ops", p.OpsAddr())
	err := g.Wait()
	p.Close()
	return err
}

// Close releases the listeners and idle connections; it is idempotent.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.ln.Close()
		if p.ops != nil {
			p.ops.Close()
		}
		p.client.CloseIdleConnections()
		if p.users != nil {
			p.users.Close()
		}
	})
	return nil
}

// authenticated checks Grafana's service credentials in constant time.
func (p *Proxy) authenticated(r *http.Request) bool {
	user, password, ok := r.BasicAuth()
	if !ok {
		return false
	}
	u, pw := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	return subtle.ConstantTimeCompare(u[:], p.secret[0][:])&subtle.ConstantTimeCompare(pw[:], p.secret[1][:]) == 1
}

// pingUpstream is the readiness check: InfluxDB answers /ping.
func (p *Proxy) pingUpstream() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := p.upstream(ctx, http.MethodGet, "/ping", "")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("InfluxDB /ping: HTTP %d", resp.StatusCode)
	}
	return nil
}

// upstream sends a request to InfluxDB with the proxy's own credentials.
func (p *Proxy) upstream(ctx context.Context, method, path, rawQuery string) (*http.Response, error) {
	u := strings.TrimRight(p.cfg.Upstream.URL, "/") + path
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	switch up := p.cfg.Upstream; {
	case up.Token != "":
		req.Header.Set("Authorization", "Token "+up.Token)
	case up.Username != "":
		req.SetBasicAuth(up.Username, up.Password)
	}
	return p.client.Do(req)
}
