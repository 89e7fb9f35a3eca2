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
	"errors"
	"fmt"
	"log/slog"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/setup"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/alerting/state"
	"github.com/cradlewatch/cradlewatch/internal/facilityfile"
	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/obs"
	"github.com/cradlewatch/cradlewatch/model"
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
	Config     Config
	Facilities []*facilityfile.Facility           // nil: loaded from Config.Facilities
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
	fac      map[string]*facilityfile.Facility
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
		o: o, cfg: cfg, log: o.Logger.With("component", "alerting"), fac: map[string]*facilityfile.Facility{},
		m: newMetrics(o.Registerer), in: make(chan message, inQueue), notifyQ: make(chan rules.Transition, notifyQueue),
		notified: make(chan rules.Transition, notifyQueue), acks: make(chan ackRequest, ackQueue), queries: make(chan chan []rules.Alert),
	}
	facs := o.Facilities
	if facs == nil {
		var err error
		if facs, err = facilityfile.LoadDir(cfg.Facilities); err != nil {
			return nil, err
		}
	}
	var err error
	if s.rs, err = rules.LoadFile(cfg.Rules, cfg.CalendarDir); err != nil {
		return nil, err
	}
	if err := checkNotifyRules(cfg, s.rs); err != nil {
		return nil, err
	}
	s.engine = rules.New(rules.Options{Rules: s.rs, Clock: o.Clock, Logger: s.log, Registerer: o.Registerer})
	var owned []*facilityfile.Facility
	for _, f := range facs {
		if rules.ShardOf(f.ID, cfg.Shard.Count) != cfg.Shard.Index {
			continue
		}
		if err := s.engine.AddFacility(rules.Facility{Facility: f.Facility, OpeningHours: f.OpeningHours}); err != nil {
			return nil, fmt.Errorf("alerting: facility %s (%s): %w", f.ID, f.Path, err)
		}
		s.fac[f.ID] = f
		owned = append(owned, f)
	}
	scfg := cfg.Notify
	scfg.Config.Directory = withFacilityOperators(scfg.Config.Directory, owned)
	ncfg := scfg.Config
	if err := scfg.CheckReach(ncfg.Directory); err != nil {
		s.log.Warn("notify: recipients of critical alerts with fewer than two channels (check-config fails on this)", "err", err)
	}
	notifiers := o.Notifiers
	if notifiers == nil {
		if notifiers, err = setup.BuildNotifiers(scfg, setup.BuildOptions{Logger: s.log, Registerer: o.Registerer}); err != nil {
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
	s.log.Info("alert state restored", "alerts", restored, "unsent", len(s.store.Unsent()), "facilities", len(s.fac))
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
	g := obs.NewGroup(ctx)
	g.Go("engine", s.evaluate)
	g.Go("notify", s.notifyLoop)
	g.Go("dispatcher", s.disp.Run)
	if s.events != nil {
		g.Go("events", s.events.run)
	}
	if s.http != nil {
		g.Go("http", s.http.Run)
	}
	s.log.Info("alerting running", "broker", cfg.MQTT.Broker, "shard", cfg.Shard.Index, "of", cfg.Shard.Count, "facilities", len(s.fac))
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

func (s *Service) observe(msg message, b *model.Batch) {
	facility, _, suffix, err := model.ParseTopic(msg.topic)
	if err != nil {
		s.m.messages.WithLabelValues("bad_topic").Inc()
		return
	}
	if _, ours := s.fac[facility]; !ours {
		s.m.messages.WithLabelValues("other_shard").Inc()
		return
	}
	switch suffix {
	case model.SuffixBatch:
		if err := model.DecodeBatch(msg.payload, b); err != nil || b.Facility != facility {
			s.m.messages.WithLabelValues("rejected").Inc()
			return
		}
		s.m.messages.WithLabelValues("batch").Inc()
		s.apply(s.engine.ObserveBatch(b), msg.arrived)
	case model.SuffixStatus:
		st, err := model.DecodeStatus(msg.payload)
		if err != nil || st.Facility != facility {
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
	for _, tr := range trs {
		f := s.fac[tr.Alert.Facility]
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
// goroutine, and reports back which the notification path holds.
func (s *Service) notifyLoop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case tr := <-s.notifyQ:
			if !s.handOver(ctx, tr) {
				return nil
			}
		}
	}
}

// Backoff of handOver while the outbox cannot be written.
const (
	handOverRetry    = time.Second
	handOverRetryMax = 30 * time.Second
)

// handOver gives tr to the dispatcher. When Handle returns nil, every
// notice tr causes is in the outbox on disk, and only then is tr marked
// notified in the state store: a crash before that hands tr over again
// after the restart, and the outbox recognises what it holds. A failed
// outbox write (a full or failing disk) is retried with backoff, in order:
// a resolution handled before its firing would leave an escalation open.
// It reports false when ctx ended.
func (s *Service) handOver(ctx context.Context, tr rules.Transition) bool {
	a := s.toNotify(tr)
	wait := handOverRetry
	for {
		err := s.disp.Handle(ctx, a)
		if err == nil {
			break
		}
		s.m.notifyFailed.Inc()
		if errors.Is(err, notify.ErrInvalidAlert) {
			s.log.Error("transition cannot be notified", "alert", a.Fingerprint, "err", err)
			return true
		}
		s.log.Error("notification outbox not written; retrying", "alert", a.Fingerprint, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		wait = min(2*wait, handOverRetryMax)
	}
	select {
	case s.notified <- tr:
		return true
	case <-ctx.Done():
		return false
	}
}

// toNotify turns an engine transition into the notification path's input
// (see notifyAlert).
func (s *Service) toNotify(tr rules.Transition) notify.Alert {
	info, _ := s.rs.Info(tr.Alert.Rule)
	return notifyAlert(tr, s.fac[tr.Alert.Facility], info)
}

// formatValue renders a value with its unit and the precision that means
// something for the kind (29.3℃, 1650ppm, 0.12mg/m³), without trailing
// zeros; a state kind in words.
func formatValue(k model.Kind, v float64) string {
	switch k {
	case model.KindDoor, model.KindWindow:
		if v >= 0.5 {
			return "开启"
		}
		return "关闭"
	}
	if u, ok := unitOf[k]; ok {
		return trimmed(v, u.prec) + u.unit
	}
	return trimmed(v, 2)
}
