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
	"github.com/cradlewatch/cradlewatch/internal/facilityfile"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/obs"
	"github.com/cradlewatch/cradlewatch/model"
)

// Options carry the gateway's configuration and dependencies.
type Options struct {
	Config     Config
	Facility   *facilityfile.Facility // nil: loaded from Config.FacilityFile
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
	fac      *facilityfile.Facility
	decoders *decode.Set
	spool    *spool.Spool
	up       *uplink
	m        *ingestMetrics
	gaps     *gapCollector
	unreg    *unregistered
	ready    obs.Readiness
	http     *obs.Server
	local    scratch // onLocal's buffers (paho's router goroutine)
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
		f, err := facilityfile.Load(cfg.FacilityFile)
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
	local, err := mqttx.New(mqttx.Options{
		Config:       localCfg,
		CleanSession: false, // the local broker queues readings while the gateway restarts
		NoStore:      true,  // what is not acknowledged, the local broker delivers again
		OrderMatters: true,
		AutoAck:      false, // PUBACK only once the reading is on disk
		Default:      g.onLocal,
		Logger:       g.log,
		OnConnect: func(c mqtt.Client) {
			for _, f := range g.decoders.Subscriptions() {
				if err := mqttx.Subscribe(c, f, 1, g.onLocal); err != nil {
					g.log.Error("subscribe on the local broker failed", "filter", f, "err", err)
					continue
				}
				g.log.Debug("subscribed on the local broker", "filter", f)
			}
		},
	})
	if err != nil {
		up.Disconnect(0)
		return fmt.Errorf("gateway: local broker: %w", err)
	}
	g.ready.Set("local broker", mqttx.Connected(local))
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
	local.Connect()
	g.log.Info("gateway running", "gateway", g.cfg.Gateway, "facility", g.fac.ID, "local", g.cfg.Local.MQTT.Broker,
		"uplink", g.cfg.Uplink.MQTT.Broker, "spool_depth", g.spool.Stats().Depth)
	<-grp.Context().Done()
	local.Disconnect(250)
	if up.IsConnectionOpen() {
		g.publishStatus(up, model.GatewayOffline, true)
	}
	up.Disconnect(250)
	return grp.Wait()
}

// onLocal handles one message from the local broker on paho's router
// goroutine: decode, map to registered devices, hand to the spool. It does
// not block on the disk: the PUBACK goes out from the spool's callback once
// the readings are fsynced.
func (g *Gateway) onLocal(_ mqtt.Client, msg mqtt.Message) {
	// paho calls this from its one router goroutine (OrderMatters), so the
	// scratch buffers in g.local are reused without locking; the spool
	// copies what it keeps.
	sc := &g.local
	var err error
	sc.obs, err = g.decoders.Decode(msg.Topic(), msg.Payload(), g.o.Clock(), sc.obs[:0])
	if err != nil && len(sc.obs) == 0 {
		msg.Ack() // counted and logged by the decoder set; nothing to keep
		return
	}
	g.keep(sc, func(err error) {
		if err != nil {
			// Not acknowledged: the local broker delivers it again after
			// the next reconnect. Counted, never silently dropped.
			g.log.Error("spool append failed; message left unacknowledged", "topic", msg.Topic(), "err", err)
			return
		}
		msg.Ack()
	})
}

// onProbe keeps what the camera prober measured (its own goroutine).
func (g *Gateway) onProbe(o decode.Observation) {
	sc := &g.probed
	sc.obs = append(sc.obs[:0], o)
	g.keep(sc, func(err error) {
		if err != nil {
			g.log.Error("spool append failed; camera probe result lost", "camera", o.Address, "err", err)
		}
	})
}

// scratch holds one caller's reusable buffers for keep.
type scratch struct {
	obs   []decode.Observation
	arena []byte
	ends  []int
	recs  [][]byte
}

// keep maps sc.obs to registered devices and hands their readings to the
// spool; done runs once they are durable (or failed), at once when there
// is nothing to keep. Unknown devices are reported as unregistered.
func (g *Gateway) keep(sc *scratch, done func(error)) {
	sc.arena, sc.recs, sc.ends = sc.arena[:0], sc.recs[:0], sc.ends[:0]
	for i := range sc.obs {
		o := &sc.obs[i]
		dev := g.fac.Sources[facilityfile.SourceKey{Source: o.Source, Address: o.Address}]
		if dev == nil {
			g.unreg.saw(o.Source, o.Address)
			continue
		}
		r := model.Reading{Device: dev.ID, Room: dev.Room, Kind: o.Kind, Time: o.Time, Value: o.Value}
		sc.arena = model.AppendReadingEntry(sc.arena, &r)
		sc.ends = append(sc.ends, len(sc.arena))
	}
	if len(sc.ends) == 0 {
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
func probeTargets(f *facilityfile.Facility) []probe.Target {
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
