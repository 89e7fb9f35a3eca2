// Package gateway is the facility-side service: it reads the facility's
// sensors from the local MQTT broker, keeps every accepted reading in a
// durable spool on disk, and forwards the spool to the centre, deleting
// nothing until the collector confirms InfluxDB stored it.
//
// The path of a reading: local broker → decode (gateway/decode) → device
// mapping (the facility file) → spool (gateway/spool, fsynced in groups) →
// PUBACK to the local broker → uplink batch (model wire contract) → collector
// → ack → spool release.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
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
	ready    obs.Readiness
	http     *obs.Server
	probed   scratch // onProbe's buffers (the prober's goroutine)
	prober   *probe.Prober
}

// New loads the facility, builds the decoders and opens (and, after a
// crash, repairs) the spool. Nothing is connected until Run.
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
	g := &Gateway{o: o, cfg: cfg, log: o.Logger.With("component", "gateway"), fac: o.Facility}
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
	g.unreg = newUnregistered(g.m)
	g.gaps = newGapCollector(g.m.gaps)
	g.spool, err = spool.Open(spool.Options{
		Dir: cfg.Spool.Dir, MaxBytes: cfg.Spool.MaxBytes, SegmentBytes: cfg.Spool.SegmentBytes,
		CommitInterval: cfg.Spool.CommitInterval, IsState: model.EntryIsState, OnDrop: g.gaps.add,
		Logger: g.log, Registerer: o.Registerer, Clock: o.Clock,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if targets := probeTargets(g.fac); len(targets) > 0 {
		g.prober, err = probe.New(probe.Options{Targets: targets, Interval: cfg.Probe.Interval, Timeout: cfg.Probe.Timeout,
			Now: o.Clock, Logger: g.log, Registerer: o.Registerer, Emit: g.onProbe})
		if err != nil {
			g.spool.Close()
			return nil, fmt.Errorf("gateway: camera probe: %w", err)
		}
	}
	g.up = &uplink{
		cfg: cfg.Uplink, lanes: cfg.Uplink.Lanes, gateway: cfg.Gateway, facility: g.fac.ID, region: g.fac.Region,
		sp: g.spool, log: g.log.With("component", "uplink"), now: o.Clock, m: newUplinkMetrics(o.Registerer),
		acks: make(chan model.Ack, 4*cfg.Uplink.Window+16), reconnect: make(chan struct{}, 1),
	}
	if o.Gatherer != nil {
		g.http = &obs.Server{Addr: cfg.HTTP.Listen, Gatherer: o.Gatherer, Ready: &g.ready, Logger: g.log}
		if err := g.http.Listen(); err != nil {
			g.spool.Close()
			return nil, err
		}
	}
	return g, nil
}

// HTTPAddr is the bound operational address ("" when disabled).
func (g *Gateway) HTTPAddr() string {
	if g.http == nil {
		return ""
	}
	return g.http.ListenAddr()
}

// Run connects to both brokers and runs until ctx ends; then it says
// goodbye to the centre (a clean offline status) and closes the spool.
func (g *Gateway) Run(ctx context.Context) error {
	defer g.spool.Close()
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

	localCfg := g.cfg.Local.MQTT
	if g.cfg.Local.Embedded.Enabled {
		b, err := embedbroker.Start(g.cfg.Local.Embedded, g.log)
		if err != nil {
			up.Disconnect(0)
			return fmt.Errorf("gateway: %w", err)
		}
		defer b.Close()
		localCfg.Broker = b.Addr()
		g.log.Info("embedded broker listening", "addr", b.Addr(), "users", len(g.cfg.Local.Embedded.Users))
	}
	link := &localLink{g: g}
	sub, err := mqttsub.New(mqttsub.Options{
		Config:       localCfg,
		Filters:      g.decoders.Subscriptions(),
		CleanSession: false, // the local broker queues readings while the gateway restarts
		Handler:      link,  // acknowledges only once the readings are on disk
		ReadCoalesce: g.cfg.Local.ReadCoalesce,
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
	grp := obs.NewGroup(ctx)
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
	grp.Go("local", sub.Run)
	g.log.Info("gateway running", "gateway", g.cfg.Gateway, "facility", g.fac.ID, "local", g.cfg.Local.MQTT.Broker,
		"uplink", g.cfg.Uplink.MQTT.Broker, "spool_depth", g.spool.Stats().Depth)
	<-grp.Context().Done()
	if up.IsConnectionOpen() {
		g.publishStatus(up, model.GatewayOffline, true)
	}
	up.Disconnect(250)
	return grp.Wait()
}

// onProbe keeps what the camera prober measured (its own goroutine).
func (g *Gateway) onProbe(o decode.Observation) {
	sc := &g.probed
	sc.obs, sc.now = append(sc.obs[:0], o), time.Time{}
	g.keep(sc, func(err error) {
		if err != nil {
			g.log.Error("spool append failed; camera probe result lost", "camera", o.Address, "err", err)
		}
	})
}

// scratch holds one caller's reusable buffers for collect and store.
type scratch struct {
	obs   []decode.Observation
	now   time.Time // the arrival time given to the decoder for obs
	arena []byte    // entries of the readings collected so far
	ends  []int     // end of each entry in arena
	recs  [][]byte
	// stamped is the last arrival time (Unix ms) given to each device's
	// readings, bounded by the registered devices.
	stamped map[*model.Device]int64
	message []stamp // the stamps given while collecting one message
	// source and bySource remember the last source's devices: a message's
	// observations, and mostly consecutive messages, share their source.
	source   string
	bySource map[string]*model.Device
}

// stamp is the arrival time given to one device's readings.
type stamp struct {
	dev *model.Device
	ms  int64
}

// keep stores sc.obs: collect, then store.
func (g *Gateway) keep(sc *scratch, done func(error)) {
	g.collect(sc)
	g.store(sc, done)
}

// collect maps sc.obs to registered devices and adds their readings to the
// entries gathered in sc. Unknown devices are reported as unregistered.
func (g *Gateway) collect(sc *scratch) {
	sc.message = sc.message[:0]
	for i := range sc.obs {
		o := &sc.obs[i]
		if o.Source != sc.source || sc.bySource == nil {
			sc.source, sc.bySource = o.Source, g.fac.Sources[o.Source]
		}
		dev := sc.bySource[o.Address]
		if dev == nil {
			g.unreg.saw(o.Source, o.Address)
			continue
		}
		t := o.Time
		if t.Equal(sc.now) {
			t = sc.arrival(dev, t)
		}
		r := model.Reading{Device: dev.ID, Room: dev.Room, Kind: o.Kind, Time: t, Value: o.Value}
		sc.arena = model.AppendReadingEntry(sc.arena, &r)
		sc.ends = append(sc.ends, len(sc.arena))
	}
}

// arrival stamps a reading that carries no device time with its arrival
// time t, in the milliseconds the wire and InfluxDB keep, made strictly
// increasing per device: InfluxDB keeps one point per series and time, so
// two messages of one device stamped alike would become one point. That
// happens when readings arrive in a burst, above all when the local broker
// replays its queue after the gateway restarted. The readings of one
// message share their device's stamp (they are different series).
func (sc *scratch) arrival(dev *model.Device, t time.Time) time.Time {
	for _, s := range sc.message {
		if s.dev == dev {
			return time.UnixMilli(s.ms)
		}
	}
	ms := t.UnixMilli()
	if sc.stamped == nil {
		sc.stamped = make(map[*model.Device]int64)
	}
	if last, ok := sc.stamped[dev]; ok && ms <= last {
		ms = last + 1
	}
	sc.stamped[dev] = ms
	sc.message = append(sc.message, stamp{dev, ms})
	return time.UnixMilli(ms)
}

// store hands the readings gathered in sc to the spool (which copies them)
// and empties sc; done runs once they are durable (or failed), at once when
// there is nothing to keep.
func (g *Gateway) store(sc *scratch, done func(error)) {
	if len(sc.ends) == 0 {
		sc.arena = sc.arena[:0]
		done(nil)
		return
	}
	start := 0
	for _, end := range sc.ends {
		sc.recs = append(sc.recs, sc.arena[start:end])
		start = end
	}
	g.m.accepted.Add(float64(len(sc.recs)))
	g.spool.Append(sc.recs, func(_ uint64, err error) {
		if err != nil {
			g.m.spoolFailed.Inc()
		}
		done(err)
	})
	clear(sc.recs) // no references into the arena outlive this call
	sc.arena, sc.recs, sc.ends = sc.arena[:0], sc.recs[:0], sc.ends[:0]
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
	if recs, err := g.spool.Read(st.Released, 1, 1<<16); err == nil && len(recs) == 1 {
		var r model.Reading
		if model.DecodeReadingEntry(recs[0].Data, &r) == nil {
			s.OldestMs = r.Time.UnixMilli()
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
