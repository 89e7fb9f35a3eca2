// Package gateway is the facility-side service: it reads the facility's
// sensors from the local MQTT broker, keeps every accepted reading in a
// durable spool on disk, and forwards the spool to the centre, deleting
// nothing until the collector confirms InfluxDB stored it.
//
// The path of a reading: local broker → decode (gateway/decode) → device
// mapping (the facility file), arrival stamp (stamp.go), redelivery check
// (redelivery.go) → spool (gateway/spool, fsynced in groups; at once for an
// urgent state change, urgent.go) → PUBACK to the local broker → uplink
// batch (model wire contract; live, backlog or urgent lane) → collector →
// ack → spool release. On an external broker the gateway subscribes
// (local.go); its embedded broker hands each message over before it
// acknowledges it (embedded.go). Both feed an intake (intake.go).
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/gateway/decode"
	"github.com/cradlewatch/cradlewatch/gateway/probe"
	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/internal/embedbroker"
	"github.com/cradlewatch/cradlewatch/internal/mqttsub"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/obs"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// Options carry the gateway's configuration and dependencies.
type Options struct {
	Config     Config
	Facility   *registry.Facility // nil: loaded from Config.FacilityFile
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer // served on /metrics; nil disables the HTTP server
	Clock      func() time.Time
	Version    string
	// SpoolFS is the spool's file layer; nil is the operating system's.
	// Tests put gateway/spool/powercut here to cut the power.
	SpoolFS spool.FS
}

// Gateway is one facility gateway.
type Gateway struct {
	o        Options
	cfg      Config
	log      *slog.Logger
	fac      *registry.Facility
	decoders *decode.Set
	spool    *spool.Spool
	up       *uplink
	m        *ingestMetrics
	gaps     *gapCollector
	unreg    *unregistered
	// appendLog reports spool appends that failed (a full or failing
	// disk), at most once a minute per path in: such a failure repeats
	// for every message until the disk recovers.
	appendLog *decode.LimitedLogger
	times     *timeReport
	stampLead time.Duration
	ready     obs.Readiness
	http      *obs.Server
	local     *intake // the local link's: the subscriber's or the embedded broker's
	probed    *intake // the camera prober's
	prober    *probe.Prober
	broker    *embedbroker.Broker // nil unless local.embedded.enabled
	closeOnce sync.Once
	closeErr  error
}

// New loads the facility, builds the decoders, opens (and, after a crash,
// repairs) the spool, and with local.embedded starts the embedded broker,
// which sensors may use at once (their messages wait for Run's spool); the
// uplink connects in Run. What New acquires (the spool's directory lock,
// the broker's and the HTTP server's ports) Close releases; a New that
// fails releases what it had acquired.
func New(o Options) (*Gateway, error) {
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
	if o.Version == "" {
		o.Version = "dev"
	}
	g := &Gateway{o: o, cfg: cfg, log: o.Logger.With("component", "gateway"), fac: o.Facility, stampLead: cfg.Local.MaxStampLead}
	if g.fac == nil {
		f, err := registry.Load(cfg.FacilityFile)
		if err != nil {
			return nil, err
		}
		g.fac = f
	}
	var err error
	g.decoders, err = decode.Build(cfg.Sources, decode.Options{Logger: g.log, Registerer: o.Registerer, MaxClockSkew: cfg.DeviceClockSkew})
	if err != nil {
		return nil, fmt.Errorf("gateway: sources: %w", err)
	}
	g.m = newIngestMetrics(o.Registerer)
	registerDiskFree(o.Registerer, cfg.Spool.Dir)
	g.unreg = newUnregistered(g.m)
	g.appendLog = decode.NewLimitedLogger(g.log, time.Minute)
	g.gaps = newGapCollector(g.m.gaps)
	g.times = g.newTimeReport()
	g.local, g.probed = newIntake(g), newIntake(g)
	g.up = &uplink{
		cfg: cfg.Uplink, lanes: cfg.Uplink.Lanes, gateway: cfg.Gateway, facility: g.fac.ID, region: g.fac.Region,
		log: g.log.With("component", "uplink"), now: o.Clock, m: newUplinkMetrics(o.Registerer),
		report: newCentreReport(o.Registerer, g.log.With("component", "uplink")),
		acks:   make(chan model.Ack, 4*cfg.Uplink.Window+16), reconnect: make(chan struct{}, 1), urgentWake: make(chan struct{}, 1),
	}
	if err := g.acquire(); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// acquire opens the spool, rebuilds the memory of recent messages from its
// tail, and binds the embedded broker's and the HTTP server's ports.
func (g *Gateway) acquire() error {
	cfg, o := &g.cfg, &g.o
	var err error
	g.spool, err = spool.Open(spool.Options{
		Dir: cfg.Spool.Dir, MaxBytes: cfg.Spool.MaxBytes, SegmentBytes: cfg.Spool.SegmentBytes,
		CommitInterval: cfg.Spool.CommitInterval, IsState: entryIsState, OnDrop: g.gaps.add,
		Logger: g.log, Registerer: o.Registerer, Clock: o.Clock, FS: o.SpoolFS,
	})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.up.sp = g.spool
	g.warnSpoolRoom()
	byID := make(map[string]*model.Device, len(g.fac.Devices))
	for i := range g.fac.Devices {
		byID[g.fac.Devices[i].ID] = &g.fac.Devices[i]
	}
	n, err := g.local.seen.rebuild(g.spool, byID)
	if err != nil {
		return fmt.Errorf("gateway: reading the spool's tail: %w", err)
	}
	g.log.Debug("recent messages remembered from the spool", "receipts", n)
	if targets := probeTargets(g.fac); len(targets) > 0 {
		g.prober, err = probe.New(probe.Options{Targets: targets, Interval: cfg.Probe.Interval, Timeout: cfg.Probe.Timeout,
			Now: o.Clock, Logger: g.log, Registerer: o.Registerer, Emit: g.onProbe})
		if err != nil {
			return fmt.Errorf("gateway: camera probe: %w", err)
		}
	}
	if cfg.Local.Embedded.Enabled {
		g.broker, err = embedbroker.New(embedbroker.Options{Config: cfg.Local.Embedded, Logger: g.log,
			Intercept: &embeddedLink{g: g, in: g.local}, Clock: o.Clock,
			MetricPrefix: "cw_gateway_local_embedded", Registerer: o.Registerer})
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		g.log.Info("embedded broker listening", "addr", g.broker.Addr(), "users", len(cfg.Local.Embedded.Users))
	}
	if o.Gatherer != nil {
		g.http = &obs.Server{Addr: cfg.HTTP.Listen, Gatherer: o.Gatherer, Ready: &g.ready, Logger: g.log}
		if err := g.http.Listen(); err != nil {
			return err
		}
	}
	return nil
}

// Close releases what New acquired: the embedded broker (its port and
// connections), the HTTP server's port, and the spool (its files and
// directory lock). Run calls it on its way out; it is idempotent, and safe
// without Run.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		var errs []error
		if g.broker != nil {
			errs = append(errs, g.broker.Close())
		}
		if g.http != nil {
			errs = append(errs, g.http.Close())
		}
		if g.spool != nil {
			errs = append(errs, g.spool.Close())
		}
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}

// HTTPAddr is the bound operational address ("" when disabled).
func (g *Gateway) HTTPAddr() string {
	if g.http == nil {
		return ""
	}
	return g.http.ListenAddr()
}

// LocalAddr is the embedded broker's URL ("" without one).
func (g *Gateway) LocalAddr() string {
	if g.broker == nil {
		return ""
	}
	return g.broker.Addr()
}

// Run connects to the centre (and to an external local broker) and runs
// until ctx ends; then it says goodbye to the centre (a clean offline
// status) and releases everything (Close).
func (g *Gateway) Run(ctx context.Context) error {
	defer g.Close()
	statusTopic := model.Topic(g.fac.ID, g.cfg.Gateway, model.SuffixStatus)
	ackTopic := model.Topic(g.fac.ID, g.cfg.Gateway, model.SuffixAck)

	up, err := mqttx.New(mqttx.Options{
		Config: g.cfg.Uplink.MQTT, CleanSession: true, OrderMatters: true, AutoAck: true, Logger: g.log,
		Will: &mqttx.Will{Topic: statusTopic, Payload: model.EncodeStatus(model.Status{
			Gateway: g.cfg.Gateway, Facility: g.fac.ID, Region: g.fac.Region, State: model.GatewayOffline,
		}), QoS: 1, Retained: true},
		OnConnect: func(c mqtt.Client) {
			if err := mqttx.Subscribe(c, ackTopic, 1, g.up.onAck); err != nil {
				g.log.Error("subscribe to acknowledgements failed", "err", err)
			}
			g.publishStatus(c, model.GatewayOnline, false)
			g.up.onConnect()
		},
	})
	if err != nil {
		return fmt.Errorf("gateway: uplink: %w", err)
	}
	g.up.pub = up
	up.Connect() // keeps retrying in the background: the centre may be away for hours

	grp := obs.NewGroup(ctx)
	if g.broker == nil {
		link := &localLink{g: g, in: g.local}
		sub, err := mqttsub.New(mqttsub.Options{
			Config:       g.cfg.Local.MQTT,
			Filters:      g.decoders.Subscriptions(),
			CleanSession: false, // the local broker queues readings while the gateway restarts
			Handler:      link,  // acknowledges only once the readings are on disk
			ReadCoalesce: g.cfg.Local.ReadCoalesce,
			// The local broker is on the same box: trying again every
			// two seconds at most costs nothing, and an untimed reading
			// that waited in its queue is dated when it is delivered.
			MaxReconnect: localMaxReconnect,
			MetricPrefix: "cw_gateway_local",
			Registerer:   g.o.Registerer,
			Logger:       g.log.With("component", "local"),
		})
		if err != nil {
			up.Disconnect(0)
			return fmt.Errorf("gateway: local broker: %w", err)
		}
		link.sub = sub
		g.ready.Set("local broker", sub.Connected)
		grp.Go("local", sub.Run)
	} else {
		g.ready.Set("local broker", func() error { return nil }) // in this process: up while we are
	}
	grp.Go("spool", g.spool.Run)
	grp.Go("uplink", g.up.run)
	grp.Go("gaps", func(ctx context.Context) error { return g.gaps.run(ctx, g.spool, g.log) })
	grp.Go("status", func(ctx context.Context) error { return g.statusLoop(ctx, up) })
	if g.prober != nil {
		grp.Go("probe", g.prober.Run)
	}
	if g.http != nil {
		grp.Go("http", g.http.Run)
	}
	local := g.cfg.Local.MQTT.Broker
	if g.broker != nil {
		local = g.broker.Addr() + " (embedded)"
	}
	g.log.Info("gateway running", "gateway", g.cfg.Gateway, "facility", g.fac.ID, "local", local,
		"uplink", g.cfg.Uplink.MQTT.Broker, "spool_depth", g.spool.Stats().Depth)
	<-grp.Context().Done()
	if g.broker != nil {
		// Sensors stop at once; what they sent and was not acknowledged
		// they send again to the next broker.
		g.broker.Close()
	}
	if up.IsConnectionOpen() {
		g.publishStatus(up, model.GatewayOffline, true)
	}
	up.Disconnect(250)
	return grp.Wait()
}

// onProbe keeps what the camera prober measured (its own goroutine).
func (g *Gateway) onProbe(o decode.Observation) {
	in := g.probed
	in.mu.Lock()
	defer in.mu.Unlock()
	in.sc.obs, in.sc.now = append(in.sc.obs[:0], o), time.Time{}
	in.collect(&message{}, 0)
	in.store(func(err error) {
		if err != nil {
			g.appendLog.Error(g.o.Clock(), "probe", "spool append failed; camera probe result lost", "camera", o.Address, "err", err)
		}
	})
}

func (g *Gateway) statusLoop(ctx context.Context, c mqtt.Client) error {
	t := time.NewTicker(g.cfg.StatusInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if c.IsConnectionOpen() {
				g.publishStatus(c, model.GatewayOnline, false)
			}
		}
	}
}

// Status is the gateway's current status message.
func (g *Gateway) Status(state model.GatewayState, clean bool) model.Status {
	st := g.spool.Stats()
	s := model.Status{
		Gateway: g.cfg.Gateway, Facility: g.fac.ID, Region: g.fac.Region, State: state, Clean: clean,
		Version: g.o.Version, TimeMs: g.o.Clock().UnixMilli(), SpoolDepth: uint64(st.Depth), SpoolBytes: st.Bytes,
		Dropped: st.Dropped, Unregistered: g.unreg.list(), Lat: g.fac.Coordinates.Lat, Lon: g.fac.Coordinates.Lon,
	}
	s.NoDeviceTime, s.RateLimited = g.times.snapshot()
	s.CentreRejected, s.CentreIgnored, s.CentreReportMs = g.up.report.snapshot()
	// The oldest unsent reading: the first reading entry from the release
	// point (marks and receipts are not readings).
	if recs, err := g.spool.Read(st.Released, 16, 1<<16); err == nil {
		for _, rec := range recs {
			var r model.Reading
			if model.EntryType(rec.Data) == model.EntryReading && model.DecodeReadingEntry(rec.Data, &r) == nil {
				s.OldestMs = r.Time.UnixMilli()
				break
			}
		}
	}
	return s
}

func (g *Gateway) publishStatus(c mqtt.Client, state model.GatewayState, clean bool) {
	tok := c.Publish(model.Topic(g.fac.ID, g.cfg.Gateway, model.SuffixStatus), 1, true, model.EncodeStatus(g.Status(state, clean)))
	if clean {
		tok.WaitTimeout(2 * time.Second) // best effort on the way out
	}
}

// probeTargets lists the facility's cameras to probe: devices whose source
// is "rtsp", with the camera's host:port as address (port 554 when absent).
func probeTargets(f *registry.Facility) []probe.Target {
	var out []probe.Target
	for _, d := range f.Entries {
		if d.Source != probe.Family {
			continue
		}
		hp := d.Address
		if _, _, err := net.SplitHostPort(hp); err != nil {
			hp = net.JoinHostPort(hp, "554")
		}
		out = append(out, probe.Target{Address: d.Address, HostPort: hp})
	}
	return out
}
