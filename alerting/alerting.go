// Package alerting is the central service that turns the live stream of
// readings into alerts and alerts into messages: it evaluates the safety
// rules (alerting/rules) per facility in event time, keeps every alert
// transition in a durable local store (alerting/state), writes them to
// InfluxDB for Grafana, and hands the ones to announce to the notification
// path (alerting/notify): SMS to operators, escalation to regulators.
//
// Where an alert becomes an SMS: engine transition → state store → notify
// queue → Dispatcher.Handle → group, silence, dedup, budget, send, record.
//
// People and machines do not reach an instance: they reach the front door
// (the console), which sends acknowledgements, silences and reads to the
// instance that owns the facility over the control bus (control.go). An
// instance listens only on its loopback operational port (/metrics,
// /debug/pprof, /healthz, /readyz). Every alert transition, notification
// outcome, acknowledgement and silence is recorded in its audit chain
// (audit.go).
//
// New acquires the operational listener, the state directories' locks,
// the state store, the notification log and the audit buffer; Close
// releases them, and so does the end of Run. A New that fails releases
// what it took.
package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/setup"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/alerting/state"
	"github.com/cradlewatch/cradlewatch/internal/ctlbus"
	"github.com/cradlewatch/cradlewatch/internal/fileutil"
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
	pollReg  bool               // the registry is the service's own: Run polls it
	added    map[string]bool    // facilities of this shard added to the engine (engine goroutine only)
	regGen   uint64             // registry generation the engine has seen (engine goroutine only)
	platform *registry.Facility // the platform's pseudo-facility: names platform alerts
	rs       *rules.RuleSet
	engine   *rules.Engine
	store    *state.Store
	disp     *notify.Dispatcher
	events   *events
	series   *seriesFile
	m        *metrics
	ready    obs.Readiness
	http     *obs.Server
	in       chan message
	notifyQ  chan rules.Transition
	notified chan rules.Transition
	calls    chan func() // run on the engine's goroutine (onEngine)
	link     link
	seen     linkSeen // the engine goroutine's view of link
	// ctlSecret authenticates the control bus's commands.
	ctlSecret     []byte
	trail         *auditor
	silencePolicy access.SilencePolicy

	// applied is the record each facility was added or updated with
	// (engine goroutine only); deregistered, the last record of each
	// facility the registry dropped while the service ran (registry.go).
	applied      map[string]*registry.Facility
	deregistered sync.Map
	// journal and acker: a message is acknowledged to the broker once what
	// it changed is on disk (journal.go).
	journal *seriesJournal
	acker   *acker

	closers   []func() error // what New acquired, released in reverse by Close
	closeOnce sync.Once
	closeErr  error
}

type message struct {
	topic    string
	payload  []byte
	arrived  time.Time
	retained bool   // a retained message delivered on subscribing: old news
	ack      func() // acknowledges it to the broker (journal.go); nil in tests
}

// New loads the registry and the rules, binds the operational address, locks
// and opens the state directories and restores the alerts and the rules'
// memory they hold. Nothing is connected until Run. On error everything
// acquired so far is released.
func New(o Options) (s *Service, err error) {
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
	s = &Service{
		o: o, cfg: cfg, log: o.Logger.With("component", "alerting"), reg: o.Registry, added: map[string]bool{},
		platform: &registry.Facility{Facility: model.Facility{ID: cfg.Platform.ID, Name: cfg.Platform.Name}},
		m:        newMetrics(o.Registerer), in: make(chan message, inQueue), notifyQ: make(chan rules.Transition, notifyQueue),
		notified: make(chan rules.Transition, notifyQueue), calls: make(chan func()), link: newLink(),
		silencePolicy: cfg.Access.Silences.Policy(),
	}
	acquired := s
	defer func() {
		if err != nil {
			acquired.Close()
		}
	}()
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
	sec, err := loadSecrets(cfg)
	if err != nil {
		return nil, err
	}
	s.ctlSecret = sec.ctl
	if err := checkPlatformID(cfg.Platform.ID, s.reg.Snapshot().Facilities()); err != nil {
		return nil, err
	}
	if err := regmetrics.Register(o.Registerer, s.reg); err != nil {
		return nil, fmt.Errorf("alerting: %w", err)
	}
	if o.Gatherer != nil {
		// Bound first: a port another process holds fails the start
		// before any state is touched.
		s.http = &obs.Server{Addr: cfg.HTTP.Listen, Gatherer: o.Gatherer, Ready: &s.ready, Logger: s.log}
		if err := s.http.Listen(); err != nil {
			return nil, err
		}
		s.onClose(s.http.Close)
	}
	for _, dir := range []string{cfg.StateDir, cfg.Notify.StateDir} {
		l, err := fileutil.LockDir(dir)
		if err != nil {
			return nil, fmt.Errorf("alerting: state directory %s (one instance per directory): %w", dir, err)
		}
		s.onClose(l.Release)
	}
	if err := checkNotifyRules(cfg, s.rs); err != nil {
		return nil, err
	}
	if s.trail, err = newAuditor(cfg.Access, cfg.Shard.Index, []string{cfg.StateDir, cfg.Notify.StateDir}, o.Clock, s.log, o.Registerer); err != nil {
		return nil, err
	}
	s.onClose(s.trail.close)
	s.engine = rules.New(rules.Options{Rules: s.rs, Clock: o.Clock, Logger: s.log, Registerer: o.Registerer,
		Platform: rules.Platform{ID: cfg.Platform.ID, Instance: cfg.MQTT.ClientID}})
	if err := s.syncRegistry(); err != nil {
		return nil, err
	}
	// Operators come from the registry at each lookup, so a changed
	// operator applies without a restart; notify's own directory, set
	// centrally, wins for the facilities it lists. Platform alerts are
	// routed like a facility's, to the platform team.
	ncfg := cfg.Notify.Config
	ncfg.Directory.OperatorsFor = s.operators
	if len(s.operators(cfg.Platform.ID)) == 0 && len(ncfg.Directory.Operators[cfg.Platform.ID]) == 0 {
		s.log.Warn("no platform contacts: platform incidents are recorded but reach nobody", "key", "platform.contacts")
	}
	// The directory with today's operators: which channels need a
	// notifier, and who has fewer than two for critical alerts.
	scfg := cfg.Notify
	scfg.Config = ncfg
	scfg.Config.Directory.Operators = s.operatorDirectory()
	if err := scfg.CheckReach(scfg.Config.Directory); err != nil {
		s.log.Warn("notify: recipients of critical alerts with fewer than two channels (check-config fails on this)", "err", err)
	}
	notifiers := o.Notifiers
	if notifiers == nil {
		if notifiers, err = setup.BuildNotifiers(scfg, setup.BuildOptions{Logger: s.log, Registerer: o.Registerer}); err != nil {
			return nil, fmt.Errorf("alerting: notify: %w", err)
		}
	}
	// Acknowledgements come as commands of the front door and are
	// recorded by the engine in the same step (control.go): no OnAck.
	if s.disp, err = notify.New(notify.Options{Config: ncfg, Notifiers: notifiers, Logger: s.log, Registerer: o.Registerer,
		Phones: sec.phones, PhoneNumbers: s.knownPhones, OnRecord: s.auditNotification, Links: sec.links}); err != nil {
		return nil, err
	}
	s.onClose(s.disp.Close)
	if s.store, err = state.Open(state.Options{Dir: cfg.StateDir, Logger: s.log, Registerer: o.Registerer}); err != nil {
		return nil, err
	}
	s.onClose(s.store.Close)
	restored := s.engine.Restore(s.store.Alerts())
	windows, journalled, err := s.restoreSeries()
	if err != nil {
		return nil, err
	}
	s.log.Info("alert state restored", "alerts", restored, "unsent", len(s.store.Unsent()), "facilities", len(s.added),
		"thresholds", windows, "journalled_batches", journalled)
	if cfg.Events.Enabled {
		s.events = newEvents(cfg.Events.Influx, o.Sink, s.log, o.Registerer)
		s.onClose(s.events.close)
	}
	s.retireUnlisted()
	return s, nil
}

// onClose adds a release to the stack Close runs in reverse.
func (s *Service) onClose(f func() error) { s.closers = append(s.closers, f) }

// Close releases what New acquired: the state store, the notification
// log, the audit buffer, the state directories' locks and the operational
// listener, in reverse order. Idempotent; Run calls it when it returns.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for i := len(s.closers) - 1; i >= 0; i-- {
			if err := s.closers[i](); err != nil {
				errs = append(errs, err)
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// close is Close for the package's tests and benchmarks.
func (s *Service) close() { s.Close() }

// HTTPAddr is the bound operational address ("" when disabled).
func (s *Service) HTTPAddr() string {
	if s.http == nil {
		return ""
	}
	return s.http.ListenAddr()
}

// Run subscribes to the gateways' stream and evaluates until ctx ends; it
// closes the service when it returns.
func (s *Service) Run(ctx context.Context) error {
	defer s.Close()
	cfg := s.cfg
	handler := func(_ mqtt.Client, msg mqtt.Message) {
		m := message{topic: msg.Topic(), payload: msg.Payload(), arrived: s.o.Clock(), retained: msg.Retained(), ack: msg.Ack}
		mqttx.Hand(ctx, s.in, m, s.m.queueFull.Inc)
	}
	var ctl *ctlbus.Responder
	// A command is acknowledged to the broker once the responder has it:
	// it carries its deadline and ID, so one lost to a crash before it was
	// applied is one the front door reports as not applied.
	ctlHandle := func(c mqtt.Client, msg mqtt.Message) {
		ctl.Handle(c, msg)
		msg.Ack()
	}
	// Messages of the persistent session may arrive before the
	// subscriptions are made again: the default handler sends the control
	// bus's to the responder, the rest to the engine.
	byTopic := func(c mqtt.Client, msg mqtt.Message) {
		if strings.HasPrefix(msg.Topic(), model.ControlPrefix+"/") {
			ctlHandle(c, msg)
			return
		}
		handler(c, msg)
	}
	// A persistent session with a stable client ID: batches published while
	// this instance restarts wait at the broker and are evaluated (as replay,
	// without stale notifications) when it is back. Queued messages can
	// arrive before the subscriptions are re-made, hence the default handler.
	client, err := mqttx.New(mqttx.Options{
		Config: cfg.MQTT, CleanSession: false, OrderMatters: true, AutoAck: false, Logger: s.log, Default: byTopic,
		OnConnect: func(c mqtt.Client) {
			// First of all: the engine must know the centre hears again
			// before it judges what the broker hands out now.
			s.link.connected(s.o.Clock())
			// Every instance reads every batch and keeps its own shard's:
			// shared subscriptions cannot split by facility.
			for _, f := range []string{model.SubscriptionAll(model.SuffixBatch), model.SubscriptionAll(model.SuffixStatus)} {
				if err := mqttx.Subscribe(c, f, 1, handler); err != nil {
					s.log.Error("subscribe failed", "filter", f, "err", err)
				}
			}
			// This shard's commands and queries from the front door.
			if err := mqttx.Subscribe(c, ctl.Filter(), 1, ctlHandle); err != nil {
				s.log.Error("subscribe failed", "filter", ctl.Filter(), "err", err)
			}
		},
		OnConnectionLost: func(error) { s.link.lost(s.o.Clock()) },
	})
	if err != nil {
		return fmt.Errorf("alerting: %w", err)
	}
	shard := cfg.Shard
	if ctl, err = ctlbus.NewResponder(ctlbus.ResponderOptions{Client: client, Shard: shard.Index, Secret: s.ctlSecret,
		Owns: func(f string) bool {
			return rules.ShardOf(f, shard.Count) == shard.Index && s.reg.Snapshot().Facility(f) != nil
		},
		Handler: s.command, Clock: s.o.Clock, Logger: s.log, Registerer: s.o.Registerer}); err != nil {
		return fmt.Errorf("alerting: %w", err)
	}
	s.ready.Set("mqtt", mqttx.Connected(client))
	g := obs.NewGroup(ctx)
	if s.http != nil {
		// The operational listener answers from the start: while the
		// broker is away /readyz says so instead of keeping callers
		// waiting, and /metrics shows the connection attempts.
		g.Go("http", s.http.Run)
	}
	if err := mqttx.Connect(g.Context(), client); err != nil {
		client.Disconnect(0)
		g.Stop()
		return fmt.Errorf("alerting: connect %s: %w", cfg.MQTT.Broker, err)
	}
	defer client.Disconnect(250)
	for _, tr := range s.store.Unsent() {
		s.notifyQ <- tr // sent again: the notification path de-duplicates
	}
	facilities := len(s.added) // before the engine's goroutine may add more
	if s.pollReg {
		g.Go("registry", s.reg.Run)
	}
	g.Go("engine", s.evaluate)
	g.Go("acks", s.ackLoop)
	g.Go("control", ctl.Run)
	g.Go("audit", s.trail.run)
	g.Go("notify", s.notifyLoop)
	g.Go("dispatcher", s.disp.Run)
	g.Go("series", s.series.run)
	if s.events != nil {
		g.Go("events", s.events.run)
	}
	s.log.Info("alerting running", "broker", cfg.MQTT.Broker, "shard", cfg.Shard.Index, "of", cfg.Shard.Count, "facilities", facilities)
	return g.Wait()
}

// evaluate is the engine's goroutine: the engine and the store are used
// from here only. It saves the rules' memory periodically and when it
// stops.
func (s *Service) evaluate(ctx context.Context) error {
	tick := time.NewTicker(s.cfg.TickInterval)
	defer tick.Stop()
	snap := time.NewTicker(s.cfg.SeriesSnapshotInterval)
	defer snap.Stop()
	defer func() { s.series.save(s.takeSeries()) }()
	var b model.Batch
	for {
		// The link's state first: a message the broker hands out after a
		// reconnect must meet an engine that knows of it.
		s.syncLink()
		select {
		case <-ctx.Done():
			return nil
		case <-s.link.wake:
		case msg := <-s.in:
			s.observe(msg, &b)
			s.ackAfter(ctx, msg)
		case <-tick.C:
			if err := s.syncRegistry(); err != nil {
				s.log.Error("registry: applying a facility to the engine failed", "err", err)
			}
			s.apply(s.engine.Tick(s.o.Clock()), time.Time{})
		case <-snap.C:
			s.series.offer(s.takeSeries())
		case tr := <-s.notified:
			if err := s.store.MarkNotified(tr); err != nil {
				s.log.Error("state: mark notified", "err", err)
			}
		case f := <-s.calls:
			f()
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
	if err != nil || facility == s.cfg.Platform.ID {
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
		s.journal.add(b, s.o.Clock())
	case model.SuffixStatus:
		st, err := model.DecodeStatus(msg.payload)
		if err != nil || st.Facility != facility || st.Gateway != gateway {
			s.m.messages.WithLabelValues("rejected").Inc()
			return
		}
		if msg.retained && st.State == model.GatewayOnline {
			// Handed out on subscribing: it says the gateway was online
			// when it last said so, not that it is now.
			s.m.messages.WithLabelValues("status_retained").Inc()
			return
		}
		s.m.messages.WithLabelValues("status").Inc()
		s.apply(s.engine.ObserveStatus(st, s.o.Clock()), msg.arrived)
	}
}

// apply records transitions (state store, InfluxDB, the audit trail) and
// queues the ones to announce. arrived is when the message that caused
// them came in (zero for ticks and acks).
func (s *Service) apply(trs []rules.Transition, arrived time.Time) { s.applyNoted(trs, arrived, "") }

// applyNoted is apply with what the transitions' actor said (an
// acknowledgement's comment), kept in the alert's history.
func (s *Service) applyNoted(trs []rules.Transition, arrived time.Time, note string) {
	if len(trs) == 0 {
		return
	}
	if err := s.store.AppendNoted(note, trs...); err != nil {
		// Still announced: losing the record is better than losing the SMS.
		s.log.Error("state: append transitions", "err", err)
	}
	for _, tr := range trs {
		s.auditTransition(tr)
		f := s.facility(tr.Alert.Facility)
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
	return notifyAlert(tr, s.facility(tr.Alert.Facility), info)
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
