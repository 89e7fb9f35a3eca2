package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/access/secret"
	"github.com/cradlewatch/cradlewatch/access/setup"
	"github.com/cradlewatch/cradlewatch/access/web"
	"github.com/cradlewatch/cradlewatch/alerting"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/console/spot"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/ctlbus"
	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/obs"
	"github.com/cradlewatch/cradlewatch/internal/shortlink"
	"github.com/cradlewatch/cradlewatch/registry"
	"github.com/cradlewatch/cradlewatch/registry/regmetrics"
	"github.com/cradlewatch/cradlewatch/regulator/report"
)

// Options build a Console.
type Options struct {
	Config Config
	// DataDirs are the service's data directories (the audit buffer's
	// among them): secret keys must lie outside them.
	DataDirs   []string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Clock is the time of pages and commands; nil is time.Now.
	Clock func() time.Time
	// Backend replaces the control bus (tests of pages alone); nil builds
	// the bus from Config.MQTT and Config.Ctl.
	Backend Backend
	// Querier replaces the InfluxDB client built from Config.Influx.
	Querier report.Querier
	// Drawer makes spot-check draws; nil is spot.NewDrawer().
	Drawer spot.Drawer
}

// Console is the front door's web console: its pages, its connection to the
// alerting instances, its access kit and its stores.
type Console struct {
	o       Options
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	kit     *setup.Kit
	reg     *registry.Registry
	rules   *rules.RuleSet
	rec     record
	backend Backend
	mqtt    mqtt.Client
	links   *shortlink.Signer
	spots   *spot.Store
	drawer  spot.Drawer
	pages   *pages
	m       *metrics
	front   *web.Server
	ops     *obs.Server
	ready   obs.Readiness

	closeOnce sync.Once
	closeErr  error
}

// New reads the secrets, opens the access database (and migrates the
// console's tables), the registry and the rule set, and binds the
// listeners. Close releases what it acquired.
func New(ctx context.Context, o Options) (_ *Console, err error) {
	cfg := o.Config
	if err := cfg.Validate(); err != nil {
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
	c := &Console{o: o, cfg: cfg, log: o.Logger.With("component", "console"), now: o.Clock}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	linkKey, err := secret.Load("shortlink.key_file", cfg.Shortlink.KeyFile, "")
	if err != nil {
		return nil, err
	}
	if c.links, err = shortlink.New(linkKey); err != nil {
		return nil, config.Errorf("shortlink.key_file", "%v", err)
	}
	if c.rules, err = rules.LoadFile(cfg.Rules, cfg.CalendarDir); err != nil {
		return nil, err
	}
	if c.reg, err = registry.OpenDir(ctx, cfg.Facilities, registry.Options{Check: alerting.CheckFacility(c.rules),
		Logger: o.Logger, Clock: o.Clock}); err != nil {
		return nil, err
	}
	if err := regmetrics.Register(o.Registerer, c.reg); err != nil {
		return nil, err
	}
	c.m = newMetrics(o.Registerer)
	if c.kit, err = setup.Open(ctx, cfg.Access, setup.Env{DataDirs: o.DataDirs, Now: o.Clock, Logger: o.Logger, Registerer: o.Registerer}); err != nil {
		return nil, err
	}
	if c.spots, err = spot.Open(ctx, c.kit.Store.DB(), c.kit.Store.Driver(), o.Logger); err != nil {
		return nil, err
	}
	c.drawer = o.Drawer
	if c.drawer == nil {
		c.drawer = spot.NewDrawer()
	}
	q := o.Querier
	if q == nil {
		cl := &influxql.Client{URL: cfg.Influx.URL, Database: cfg.Influx.Database, HTTP: &http.Client{Timeout: cfg.Influx.Timeout}}
		if cfg.Influx.TokenFile != "" {
			tok, err := secret.Load("influx.token_file", cfg.Influx.TokenFile, "")
			if err != nil {
				return nil, err
			}
			cl.Token = string(tok)
		}
		q = cl
	}
	c.rec = record{q: q}
	c.backend = o.Backend
	if c.backend == nil {
		if c.backend, err = c.connectBus(); err != nil {
			return nil, err
		}
	}
	if c.pages, err = newPages(); err != nil {
		return nil, err
	}
	routes, err := c.routes()
	if err != nil {
		return nil, err
	}
	if c.front, err = c.kit.Server(cfg.HTTP.Listen, routes); err != nil {
		return nil, config.Errorf("access.http", "%v", err)
	}
	if err := c.front.Listen(); err != nil {
		return nil, config.Errorf("http.listen", "%v", err)
	}
	c.ready.Set("access_db", func() error { return c.kit.Store.Ping(context.Background()) })
	c.ops = &obs.Server{Addr: cfg.Ops.Listen, Gatherer: o.Gatherer, Ready: &c.ready, Logger: o.Logger}
	if o.Gatherer == nil {
		c.ops.Gatherer = prometheus.NewRegistry()
	}
	if err := c.ops.Listen(); err != nil {
		return nil, config.Errorf("ops.listen", "%v", err)
	}
	return c, nil
}

// connectBus builds the MQTT client and the requester of the control bus.
// It connects in Run; until then, and while the broker is away, commands
// answer "not answered, nothing changed".
func (c *Console) connectBus() (Backend, error) {
	key, err := secret.Load("ctl.secret_file", c.cfg.Ctl.SecretFile, "")
	if err != nil {
		return nil, err
	}
	var req *ctlbus.Requester
	client, err := mqttx.New(mqttx.Options{Config: c.cfg.MQTT, CleanSession: true, OrderMatters: false, AutoAck: true, Logger: c.o.Logger,
		OnConnect: func(cl mqtt.Client) {
			if err := mqttx.Subscribe(cl, req.Filter(), 1, req.Handle); err != nil {
				c.log.Error("control replies not subscribed", "err", err)
			}
		}})
	if err != nil {
		return nil, config.Errorf("mqtt", "%v", err)
	}
	req, err = ctlbus.NewRequester(ctlbus.RequesterOptions{Client: client, ClientID: c.cfg.MQTT.ClientID, Shards: c.cfg.Ctl.Shards,
		Secret: key, Timeout: c.cfg.Ctl.CommandTimeout, Clock: c.now, Logger: c.o.Logger, Registerer: c.o.Registerer})
	if err != nil {
		return nil, config.Errorf("ctl.secret_file", "%v", err)
	}
	c.mqtt = client
	c.ready.Set("broker", func() error {
		if !client.IsConnectionOpen() {
			return errors.New("not connected to the broker")
		}
		return nil
	})
	return &CtlBackend{Requester: req, ShardN: c.cfg.Ctl.Shards, CommandTimeout: c.cfg.Ctl.CommandTimeout,
		ReadTimeout: c.cfg.Ctl.ReadTimeout, Clock: c.now}, nil
}

// Addr is the front door's bound address (host:port).
func (c *Console) Addr() string { return c.front.Addr() }

// OpsAddr is the operational listener's bound address.
func (c *Console) OpsAddr() string { return c.ops.ListenAddr() }

// Run serves until ctx ends: the front door, the operational listener,
// the registry's reloads, the audit trail's flushing and the broker
// connection.
func (c *Console) Run(ctx context.Context) error {
	if c.mqtt != nil {
		c.mqtt.Connect() // retries in the background; the OnConnect subscribes
	}
	g := obs.NewGroup(ctx)
	g.Go("front", c.front.Run)
	g.Go("ops", c.ops.Run)
	g.Go("registry", c.reg.Run)
	g.Go("audit", c.kit.Run)
	c.log.Info("console serving", "addr", c.Addr(), "ops", c.OpsAddr(), "facilities", c.reg.Snapshot().Len())
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Close releases what New acquired; closing twice is harmless.
func (c *Console) Close() error {
	c.closeOnce.Do(func() {
		var errs []error
		if c.mqtt != nil {
			c.mqtt.Disconnect(250)
		}
		if c.ops != nil {
			errs = append(errs, c.ops.Close())
		}
		if c.front != nil {
			errs = append(errs, c.front.Close())
		}
		if c.kit != nil {
			errs = append(errs, c.kit.Close())
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// Check validates the configuration and loads the rule set and the
// registry as New does, without opening the database or binding ports:
// what `console check-config` runs. Secrets are read and checked.
func Check(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	for key, f := range map[string]string{"shortlink.key_file": cfg.Shortlink.KeyFile, "ctl.secret_file": cfg.Ctl.SecretFile,
		"access.phone_key_file": cfg.Access.PhoneKeyFile, "callbacks.aliyun.secret_file": cfg.Callbacks.Aliyun.SecretFile,
		"callbacks.tencent.secret_file": cfg.Callbacks.Tencent.SecretFile} {
		if f == "" && strings.HasPrefix(key, "callbacks.") {
			continue // that provider has no reply callback
		}
		if _, err := secret.Load(key, f, ""); err != nil {
			return err
		}
	}
	rs, err := rules.LoadFile(cfg.Rules, cfg.CalendarDir)
	if err != nil {
		return err
	}
	if _, err := registry.OpenDir(context.Background(), cfg.Facilities, registry.Options{Check: alerting.CheckFacility(rs)}); err != nil {
		return err
	}
	return nil
}
