// Package alerting is the central service that turns the live stream of
// readings into alerts and alerts into messages: it evaluates the safety
// rules (alerting/rules) per facility in event time, keeps every alert
// transition in a durable local store (alerting/state), writes them to
// InfluxDB for Grafana, and hands the ones to announce to the notification
// path (alerting/notify): SMS to operators, escalation to regulators.
//
// Where an alert becomes an SMS: engine transition → state store → notify
// queue → Dispatcher.Handle → group, silence, dedup, budget, send, record.
package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/setup"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/alerting/state"
	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/obs"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
	"github.com/cradlewatch/cradlewatch/registry/regmetrics"
)

// Queue bounds. Messages wait in inQueue while the engine works; transitions
// wait in notifyQueue while a notifier sends (a provider can be slow).
const (
	inQueue     = 4096
	notifyQueue = 10000
	ackQueue    = 256
)

// Options carry the service's configuration and dependencies.
type Options struct {
	Config Config
	// Registry of facilities; nil opens Config.Facilities, and Run polls
	// it. A registry passed here is reloaded by its owner.
	Registry   *registry.Registry
	Notifiers  map[notify.Channel]notify.Notifier // nil: built from Config.Notify
	Sink       influxwrite.Sink                   // alert events; nil: Config.Events.Influx
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer // served on /metrics; nil disables the HTTP server
	Clock      func() time.Time
}

// Service is one alerting instance (one shard of the facilities).
type Service struct {
	o        Options
	cfg      Config
	log      *slog.Logger
	reg      *registry.Registry
	pollReg  bool            // the registry is the service's own: Run polls it
	added    map[string]bool // facilities of this shard added to the engine (engine goroutine only)
	regGen   uint64          // registry generation the engine has seen (engine goroutine only)
	rs       *rules.RuleSet
	engine   *rules.Engine
	store    *state.Store
	disp     *notify.Dispatcher
	events   *events
	m        *metrics
	ready    obs.Readiness
	http     *obs.Server
	in       chan message
	notifyQ  chan rules.Transition
	notified chan rules.Transition
	acks     chan ackRequest
	queries  chan chan []rules.Alert
}

type message struct {
	topic   string
	payload []byte
	arrived time.Time
}

// New loads the registry and the rules, opens the state store and restores
// the alerts it holds. Nothing is connected until Run.
func New(o Options) (*Service, error) {
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
	s := &Service{
		o: o, cfg: cfg, log: o.Logger.With("component", "alerting"), reg: o.Registry, added: map[string]bool{},
		m: newMetrics(o.Registerer), in: make(chan message, inQueue), notifyQ: make(chan rules.Transition, notifyQueue),
		notified: make(chan rules.Transition, notifyQueue), acks: make(chan ackRequest, ackQueue), queries: make(chan chan []rules.Alert),
	}
	var err error
	if s.rs, err = rules.LoadFile(cfg.Rules, cfg.CalendarDir); err != nil {
		return nil, err
	}
	if s.reg == nil {
		if s.reg, err = registry.OpenDir(context.Background(), cfg.Facilities, registry.Options{
			Check: CheckFacility(s.rs), Logger: s.log, Clock: o.Clock}); err != nil {
			return nil, err
		}
		s.pollReg = true
	}
	if err := regmetrics.Register(o.Registerer, s.reg); err != nil {
		return nil, fmt.Errorf("alerting: %w", err)
	}
	s.engine = rules.New(rules.Options{Rules: s.rs, Clock: o.Clock, Logger: s.log, Registerer: o.Registerer})
	if err := s.syncRegistry(); err != nil {
		return nil, err
	}
	// Operators come from the registry at each lookup, so a changed
	// operator applies without a restart; notify's own directory, set
	// centrally, wins for the facilities it lists.
	ncfg := cfg.Notify.Config
	ncfg.Directory.OperatorsFor = s.operators
	notifiers := o.Notifiers
	if notifiers == nil {
		// The notifiers for the channels the directory and today's
		// operators use.
		scfg := cfg.Notify
		scfg.Config = ncfg
		scfg.Config.Directory.Operators = s.operatorDirectory()
		if notifiers, err = setup.BuildNotifiers(scfg, setup.BuildOptions{Logger: s.log}); err != nil {
			return nil, fmt.Errorf("alerting: notify: %w", err)
		}
	}
	onAck := func(a notify.Alert, actor, _ string) {
		// From an HTTP or SMS-reply handler: the engine records it on its
		// own goroutine. The queue is generous; a full one is counted and
		// the engine learns of the acknowledgement at the next one.
		select {
		case s.acks <- ackRequest{fingerprint: a.Fingerprint, actor: actor}:
		default:
			s.m.ackDropped.Inc()
		}
	}
	if s.disp, err = notify.New(notify.Options{Config: ncfg, Notifiers: notifiers, Logger: s.log, Registerer: o.Registerer, OnAck: onAck}); err != nil {
		return nil, err
	}
	if s.store, err = state.Open(state.Options{Dir: cfg.StateDir, Logger: s.log, Registerer: o.Registerer}); err != nil {
		s.disp.Close()
		return nil, err
	}
	restored := s.engine.Restore(s.store.Alerts())
	s.log.Info("alert state restored", "alerts", restored, "unsent", len(s.store.Unsent()), "facilities", len(s.added))
	if cfg.Events.Enabled {
		sink := o.Sink
		if sink == nil {
			sink = influxwrite.NewInfluxSink(cfg.Events.Influx)
		}
		s.events = newEvents(sink, s.log, o.Registerer)
	}
	if o.Gatherer != nil {
		s.http = &obs.Server{Addr: cfg.HTTP.Listen, Gatherer: o.Gatherer, Ready: &s.ready, Logger: s.log}
		s.http.Handle("POST /api/v1/ack", s.ackHandler())
		s.http.Handle("GET /api/v1/alerts", s.alertsHandler())
		s.http.Handle("/api/v1/silences", s.disp.SilencesHandler())
		// Upstream SMS (replies with the ack code), pushed by the providers.
		s.http.Handle("POST /api/v1/sms/aliyun", s.disp.AliyunReplyHandler())
		s.http.Handle("POST /api/v1/sms/tencent", s.disp.TencentReplyHandler())
		if err := s.http.Listen(); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Service) close() {
	s.store.Close()
	s.disp.Close()
}

// HTTPAddr is the bound operational address ("" when disabled).
func (s *Service) HTTPAddr() string {
	if s.http == nil {
		return ""
	}
	return s.http.ListenAddr()
}

// Run subscribes to the gateways' stream and evaluates until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	defer s.close()
	cfg := s.cfg
	handler := func(_ mqtt.Client, msg mqtt.Message) {
		m := message{topic: msg.Topic(), payload: msg.Payload(), arrived: s.o.Clock()}
		mqttx.Hand(ctx, s.in, m, s.m.queueFull.Inc)
	}
	// A persistent session with a stable client ID: batches published while
	// this instance restarts wait at the broker and are evaluated (as replay,
	// without stale notifications) when it is back. Queued messages can
	// arrive before the subscriptions are re-made, hence the default handler.
	client, err := mqttx.New(mqttx.Options{
		Config: cfg.MQTT, CleanSession: false, OrderMatters: true, AutoAck: true, Logger: s.log, Default: handler,
		OnConnect: func(c mqtt.Client) {
			// Every instance reads every batch and keeps its own shard's:
			// shared subscriptions cannot split by facility.
			for _, f := range []string{model.SubscriptionAll(model.SuffixBatch), model.SubscriptionAll(model.SuffixStatus)} {
				if err := mqttx.Subscribe(c, f, 1, handler); err != nil {
					s.log.Error("subscribe failed", "filter", f, "err", err)
				}
			}
		},
	})
	if err != nil {
		return fmt.Errorf("alerting: %w", err)
	}
	s.ready.Set("mqtt", mqttx.Connected(client))
	if err := mqttx.Connect(ctx, client); err != nil {
		client.Disconnect(0)
		return fmt.Errorf("alerting: connect %s: %w", cfg.MQTT.Broker, err)
	}
	defer client.Disconnect(250)
	for _, tr := range s.store.Unsent() {
		s.notifyQ <- tr // sent again: the notification path de-duplicates
	}
	facilities := len(s.added) // before the engine's goroutine may add more
	g := obs.NewGroup(ctx)
	if s.pollReg {
		g.Go("registry", s.reg.Run)
	}
	g.Go("engine", s.evaluate)
	g.Go("notify", s.notifyLoop)
	g.Go("dispatcher", s.disp.Run)
	if s.events != nil {
		g.Go("events", s.events.run)
	}
	if s.http != nil {
		g.Go("http", s.http.Run)
	}
	s.log.Info("alerting running", "broker", cfg.MQTT.Broker, "shard", cfg.Shard.Index, "of", cfg.Shard.Count, "facilities", facilities)
	return g.Wait()
}

// evaluate is the engine's goroutine: the engine and the store are used
// from here only.
func (s *Service) evaluate(ctx context.Context) error {
	tick := time.NewTicker(s.cfg.TickInterval)
	defer tick.Stop()
	var b model.Batch
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg := <-s.in:
			s.observe(msg, &b)
		case <-tick.C:
			if err := s.syncRegistry(); err != nil {
				s.log.Error("registry: adding a facility to the engine failed", "err", err)
			}
			s.apply(s.engine.Tick(s.o.Clock()), time.Time{})
		case tr := <-s.notified:
			if err := s.store.MarkNotified(tr); err != nil {
				s.log.Error("state: mark notified", "err", err)
			}
		case reply := <-s.queries:
			reply <- s.engine.Alerts()
		case req := <-s.acks:
			tr, err := s.engine.Acknowledge(req.fingerprint, req.actor, s.o.Clock())
			if err == nil {
				s.apply([]rules.Transition{tr}, time.Time{})
			}
			if req.done != nil {
				req.done <- err
			}
		}
	}
}

// observe evaluates one message. The registry decides what is trusted: a
// facility it does not list, a gateway not registered to the facility, a
// batch claiming another region, and readings of devices the facility does
// not list are refused and counted; readings get their room from the
// registry.
func (s *Service) observe(msg message, b *model.Batch) {
	facility, gateway, suffix, err := model.ParseTopic(msg.topic)
	if err != nil {
		s.m.messages.WithLabelValues("bad_topic").Inc()
		return
	}
	snap := s.reg.Snapshot()
	f := snap.Facility(facility)
	switch {
	case f == nil:
		s.m.messages.WithLabelValues(model.RejectUnknownFacility).Inc()
		return
	case rules.ShardOf(facility, s.cfg.Shard.Count) != s.cfg.Shard.Index:
		s.m.messages.WithLabelValues("other_shard").Inc()
		return
	case !f.HasGateway(gateway):
		// 200 invented gateway IDs on a facility's topic must not raise
		// 200 gateway alerts.
		s.m.messages.WithLabelValues(model.RejectUnregisteredGateway).Inc()
		return
	}
	if !s.added[facility] {
		if err := s.syncRegistry(); err != nil {
			s.log.Error("registry: adding a facility to the engine failed", "facility", facility, "err", err)
			return
		}
	}
	switch suffix {
	case model.SuffixBatch:
		if err := model.DecodeBatch(msg.payload, b); err != nil || b.Facility != facility || b.Gateway != gateway {
			s.m.messages.WithLabelValues("rejected").Inc()
			return
		}
		if b.Region != f.Region {
			// Counted, and evaluated all the same: the region is the
			// registry's, and a typo in a facility's file must not mute its
			// smoke alarm.
			s.m.messages.WithLabelValues(model.RejectRegionMismatch).Inc()
		}
		s.keepRegistered(b, snap, f)
		s.m.messages.WithLabelValues("batch").Inc()
		s.apply(s.engine.ObserveBatch(b), msg.arrived)
	case model.SuffixStatus:
		st, err := model.DecodeStatus(msg.payload)
		if err != nil || st.Facility != facility || st.Gateway != gateway {
			s.m.messages.WithLabelValues("rejected").Inc()
			return
		}
		s.m.messages.WithLabelValues("status").Inc()
		s.apply(s.engine.ObserveStatus(st, s.o.Clock()), msg.arrived)
	}
}

// apply records transitions and queues the ones to announce. arrived is
// when the message that caused them came in (zero for ticks and acks).
func (s *Service) apply(trs []rules.Transition, arrived time.Time) {
	if len(trs) == 0 {
		return
	}
	if err := s.store.Append(trs...); err != nil {
		// Still announced: losing the record is better than losing the SMS.
		s.log.Error("state: append transitions", "err", err)
	}
	snap := s.reg.Snapshot()
	for _, tr := range trs {
		f := snap.Facility(tr.Alert.Facility)
		if s.events != nil && f != nil {
			s.events.add(tr, f.Region)
		}
		if !tr.Notify {
			continue
		}
		select {
		case s.notifyQ <- tr:
			if !arrived.IsZero() {
				s.m.latency.Observe(s.o.Clock().Sub(arrived).Seconds())
			}
		default:
			// The store keeps it as unsent: it goes out after a restart.
			s.m.notifyDropped.Inc()
			s.log.Error("notification queue full; kept as unsent", "alert", tr.Alert.Fingerprint)
		}
	}
}

// notifyLoop hands transitions to the dispatcher, off the engine's
// goroutine, and reports back which were accepted.
func (s *Service) notifyLoop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case tr := <-s.notifyQ:
			a := s.toNotify(tr)
			if err := s.disp.Handle(ctx, a); err != nil {
				s.m.notifyFailed.Inc()
				s.log.Error("notification path failed", "alert", a.Fingerprint, "err", err)
				continue
			}
			select {
			case s.notified <- tr:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// toNotify turns an engine transition into the notification path's input.
func (s *Service) toNotify(tr rules.Transition) notify.Alert {
	a := tr.Alert
	n := notify.Alert{
		Fingerprint: a.Fingerprint, Rule: a.Rule, Facility: a.Facility, Room: a.Room, Device: a.Device,
		What: a.Description, Value: formatValue(a.Kind, a.Value), Limit: formatValue(a.Kind, a.Limit),
		StartsAt: a.Since, At: tr.At, Regulators: a.Escalate,
	}
	if !a.FiredAt.IsZero() {
		n.StartsAt = a.FiredAt
	}
	if n.StartsAt.IsZero() {
		n.StartsAt = tr.At
	}
	if f := s.reg.Snapshot().Facility(a.Facility); f != nil {
		n.FacilityName, n.Region = f.Name, f.Region
		for _, r := range f.Rooms {
			if r.ID == a.Room && r.Name != "" {
				n.Room = r.Name
			}
		}
	}
	switch a.Severity {
	case rules.Critical:
		n.Severity = notify.SeverityCritical
	case rules.Warning:
		n.Severity = notify.SeverityWarning
	default:
		n.Severity = notify.SeverityInfo
	}
	switch tr.To {
	case rules.Acknowledged:
		n.State = notify.StateAcknowledged
	case rules.Resolved:
		n.State = notify.StateResolved
	default:
		n.State = notify.StateFiring
	}
	return n
}

// formatValue renders a value with its unit for a message.
func formatValue(k model.Kind, v float64) string {
	switch k {
	case model.KindTemperature:
		return fmt.Sprintf("%.1f℃", v)
	case model.KindHumidity:
		return fmt.Sprintf("%.0f%%", v)
	case model.KindCO2:
		return fmt.Sprintf("%.0fppm", v)
	case model.KindPM25, model.KindPM10:
		return fmt.Sprintf("%.0fμg/m³", v)
	case model.KindHCHO, model.KindTVOC:
		return fmt.Sprintf("%.2fmg/m³", v)
	case model.KindCameraRetention:
		return fmt.Sprintf("%.0f天", v)
	case model.KindDoor, model.KindWindow:
		if v >= 0.5 {
			return "开启"
		}
		return "关闭"
	}
	return fmt.Sprintf("%g", v)
}
