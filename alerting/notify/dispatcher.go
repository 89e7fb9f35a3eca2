package notify

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/access/audit"
)

// Files in Config.StateDir.
const (
	LogFile        = "notifications.log" // notification log: outcomes (dedup, budgets, SMS replies, dead letters)
	OutboxFile     = "outbox.log"        // outbox: notices due and escalation changes, before anything depends on them
	EscalationFile = "escalations.json"  // snapshot of the outbox: open alerts and pending notices
	SilenceFile    = "silences.json"     // silences added at run time
)

// idleWake bounds how long Run sleeps when nothing is scheduled.
const idleWake = time.Hour

// Options carry the Dispatcher's configuration and dependencies.
type Options struct {
	Config     Config
	Notifiers  map[Channel]Notifier // one per channel; ChannelSMS is the configured SMS provider (or a failover of several)
	Clock      Clock                // default RealClock
	Logger     *slog.Logger         // default slog.Default()
	Registerer prometheus.Registerer
	Rand       *rand.Rand     // ack codes and retry jitter; default seeded from crypto/rand
	Location   *time.Location // for times in messages; default Asia/Shanghai (UTC+8 if no tzdata)
	// OnAck is told of every acknowledgement the dispatcher accepts, from
	// any source (a command of the front door, an SMS reply), so the rule
	// engine can record it with its actor. It must not block.
	OnAck func(a Alert, actor, source string)
	// Phones pseudonymises phone numbers wherever notify stores them (the
	// notification log, budgets, recipient ids): HMAC under the
	// deployment's phone key (access.phone_key_file). Required.
	Phones *audit.PhoneKeyer
	// PhoneNumbers lists the numbers the service knows (the registry's
	// operators, the directory, platform contacts). State written with
	// the unsalted hashes of earlier releases is re-keyed once at start
	// for these; other old hashes are dropped (rekey.go).
	PhoneNumbers func() []string
	// OnRecord is told of every outcome written to the notification log
	// (the audit trail records them). It runs with the dispatcher's lock
	// held and must not block.
	OnRecord func(LogEntry)
	// Links signs the console's short link of each alert for its messages
	// (nil: messages carry no link).
	Links *Links
}

// Dispatcher turns alert transitions into notifications: escalation, the
// outbox, then group → silence → dedup → announced → plan → send → record.
type Dispatcher struct {
	cfg       Config
	notifiers map[Channel]Notifier
	clock     Clock
	logger    *slog.Logger
	metrics   *metrics
	onAck     func(a Alert, actor, source string)
	onRecord  func(LogEntry)
	phones    *audit.PhoneKeyer
	rnd       *rand.Rand
	render    *renderer
	pipeline  Pipeline
	contacts  map[string]Contact // recipient id → contact
	budget    *budget            // used by the sender only
	log       *nflog
	wake      chan struct{}
	// logCompactAt: the notification log's size at which Run compacts it
	// (nflog_compact.go); sender goroutine only.
	logCompactAt int64

	mu       sync.Mutex // guards the fields below
	esc      *Escalator
	out      *outbox
	live     map[string]*delivery // pending notices by key
	stash    *outboxRecord        // changes a failed outbox write still owes
	silences []Silence

	sendMu sync.Mutex // one delivery at a time: a crash repeats at most the one in flight
}

// New opens (or creates) the state in cfg.StateDir: the pending notices
// and escalations come back as they were.
func New(o Options) (*Dispatcher, error) {
	cfg := o.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("notify config: %w", err)
	}
	if o.Registerer == nil {
		return nil, errors.New("notify: Options.Registerer is required")
	}
	if o.Phones == nil {
		return nil, errors.New("notify: Options.Phones is required (phone numbers are stored pseudonymised under a key)")
	}
	if cfg.Links.BaseURL != "" && o.Links == nil {
		return nil, errors.New("notify: links.base_url is set but no link signer was given (links.key_file)")
	}
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Rand == nil {
		var seed [32]byte
		_, _ = crand.Read(seed[:])
		o.Rand = rand.New(rand.NewChaCha8(seed))
	}
	if o.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			loc = time.FixedZone("CST", 8*3600)
		}
		o.Location = loc
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("notify: register metrics: %w", err)
	}
	r, err := newRenderer(cfg.Templates, cfg.DefaultLang, cfg.MaxParamRunes, cfg.AckURL, o.Location, o.Links)
	if err != nil {
		return nil, fmt.Errorf("notify config: %w", err)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("notify: state dir: %w", err)
	}
	logger := o.Logger.With("component", "notify")
	d := &Dispatcher{cfg: cfg, notifiers: o.Notifiers, clock: o.Clock, logger: logger, metrics: m, onAck: o.OnAck,
		onRecord: o.OnRecord, phones: o.Phones, rnd: o.Rand, render: r, budget: newBudget(cfg.Budget),
		wake: make(chan struct{}, 1), live: map[string]*delivery{}}
	d.contacts = d.indexContacts(cfg.Directory)
	rk := newRekeyer(o.Phones, d.knownPhones(o.PhoneNumbers))
	if err := d.restore(o.Registerer, rk); err != nil {
		return nil, err
	}
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cw_alerting_notify_pending_notices",
		Help: "Notices in the outbox not yet delivered: waiting for their group, a retry or an escalation in flight."},
		func() float64 { return float64(d.Pending()) })
	if err := o.Registerer.Register(pending); err != nil {
		d.Close()
		return nil, fmt.Errorf("notify: register metrics: %w", err)
	}
	if err := d.loadSilences(); err != nil {
		d.Close()
		return nil, err
	}
	d.pipeline = Pipeline{contactStage{d}, silenceStage{d}, dedupStage{d}, announcedStage{d}, planStage{d}, sendStage{d}, recordStage{d}}
	return d, nil
}

// restore opens the notification log and the outbox and rebuilds the
// escalations and the pending notices, then compacts the outbox. State in
// the unsalted phone hashes of earlier releases is re-keyed on the way
// (rk); the compaction writes the outbox's re-keyed.
func (d *Dispatcher) restore(reg prometheus.Registerer, rk *rekeyer) error {
	var err error
	d.log, err = openNflog(filepath.Join(d.cfg.StateDir, LogFile), d.logger, reg, d.budget.replay, rk)
	if err != nil {
		return err
	}
	out, ld, err := openOutbox(d.cfg.StateDir, d.logger, reg)
	if err != nil {
		d.log.close()
		return err
	}
	d.out = out
	rk.loaded(ld)
	if n, dropped := rk.counts(); n+dropped > 0 {
		d.logger.Info("notification state re-keyed: phone hashes of an earlier release replaced by keyed pseudonyms",
			"rekeyed", n, "dropped_unknown", dropped)
	}
	open := make([]*escalation, 0, len(ld.open))
	for _, fp := range slices.Sorted(maps.Keys(ld.open)) {
		open = append(open, ld.open[fp])
	}
	if d.esc, err = NewEscalator(d.cfg.Policies, d.cfg.Directory, open, ld.closed, d.phones); err != nil {
		d.Close()
		return err
	}
	if ld.legacy {
		for _, s := range open {
			s.Reached = d.esc.legacyReached(s)
		}
	}
	for key, n := range ld.pending {
		if d.log.done(key) {
			d.out.done(key)
			continue
		}
		d.live[key] = d.newDelivery(n)
	}
	if err := d.out.compact(d.esc.all(), d.esc.closedEpisodes()); err != nil {
		d.Close()
		return err
	}
	d.compactLog(d.clock.Now())
	if len(d.live) > 0 || len(open) > 0 {
		d.logger.Info("notification state restored", "open_alerts", len(open), "pending_notices", len(d.live))
	}
	return nil
}

// Close releases the notification log and the outbox; it is idempotent.
func (d *Dispatcher) Close() error {
	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	var errs []error
	if d.log != nil {
		errs = append(errs, d.log.close())
	}
	if d.out != nil {
		errs = append(errs, d.out.close())
	}
	return errors.Join(errs...)
}

// Run sends what is due, woken by Handle, acknowledgements and a timer set
// to the next deadline (a group's wait, a retry, an escalation step), until
// ctx is done.
func (d *Dispatcher) Run(ctx context.Context) error {
	timer := time.NewTimer(idleWake)
	defer timer.Stop()
	for {
		if err := d.Tick(ctx); err != nil && ctx.Err() == nil {
			d.logger.Error("notify", "err", err)
		}
		d.maybeCompactLog()
		wait := idleWake
		if next := d.nextWake(); !next.IsZero() {
			wait = max(next.Sub(d.clock.Now()), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-timer.C:
		}
	}
}

// kick wakes Run.
func (d *Dispatcher) kick() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Handle takes one alert transition from the rule engine. When it returns
// nil, every notice the transition causes is in the outbox on disk (and
// the escalation changes with it): the caller may mark the transition
// notified. The notices leave on Run's next round: at once for a critical
// alert, after their group's wait otherwise.
func (d *Dispatcher) Handle(ctx context.Context, a Alert) error {
	if err := a.Validate(); err != nil {
		return err
	}
	now := d.clock.Now()
	d.mu.Lock()
	rec := &outboxRecord{}
	due := d.esc.Observe(a)
	if a.State != StateFiring {
		rec.Cancel = d.cancelPending(a.Fingerprint, a.State == StateResolved, now)
	}
	due = append(due, d.esc.Tick(now)...)
	err := d.commit(rec, due, now)
	d.mu.Unlock()
	d.kick()
	if err != nil {
		d.metrics.stateErrors.Inc()
		return fmt.Errorf("notify: outbox: %w", err)
	}
	return nil
}

// Tick advances escalations and sends every group that is ready. Run calls
// it; tests call it with a fake clock.
func (d *Dispatcher) Tick(ctx context.Context) error {
	now := d.clock.Now()
	d.mu.Lock()
	err := d.commit(&outboxRecord{}, d.esc.Tick(now), now)
	d.mu.Unlock()
	if err != nil {
		d.metrics.stateErrors.Inc()
		d.logger.Error("outbox write failed; notices are kept in memory and written with the next change", "err", err)
	}
	return d.flush(ctx)
}

// commit turns due notices into outbox notices and writes them with the
// escalation changes in one record (one fsync); then they are live. A
// failed write keeps the changes for the next write and the notices live:
// sending them is better than losing them.
func (d *Dispatcher) commit(rec *outboxRecord, due []Due, now time.Time) error {
	rec.Add = d.notices(due, now)
	rec.Open, rec.Closed = d.esc.Changes()
	if d.stash != nil {
		rec = d.stash.merge(rec)
		d.stash = nil
	}
	err := d.out.write(rec)
	if err != nil {
		d.stash = rec
	}
	for _, n := range rec.Add {
		if d.live[n.Key] == nil {
			d.live[n.Key] = d.newDelivery(n)
		}
	}
	if err == nil && d.out.needsCompaction() {
		if cerr := d.out.compact(d.esc.all(), d.esc.closedEpisodes()); cerr != nil {
			d.logger.Error("outbox compaction failed", "err", cerr)
		}
	}
	return err
}

// merge returns r followed by later, as one record.
func (r *outboxRecord) merge(later *outboxRecord) *outboxRecord {
	out := &outboxRecord{Closed: append(slices.Clone(r.Closed), later.Closed...), Add: append(slices.Clone(r.Add), later.Add...),
		Cancel: append(slices.Clone(r.Cancel), later.Cancel...)}
	open := map[string]*escalation{}
	for _, s := range append(slices.Clone(r.Open), later.Open...) {
		open[s.Alert.Fingerprint] = s
	}
	for _, c := range later.Closed {
		if s := open[c.Fingerprint]; s != nil && s.Alert.episode() == c.Episode {
			delete(open, c.Fingerprint)
		}
	}
	for _, fp := range slices.Sorted(maps.Keys(open)) {
		out.Open = append(out.Open, open[fp])
	}
	return out
}

// notices makes one notice per recipient of each due item, skipping what
// is pending already or finished; each recipient of a non-resolved notice
// is noted as reached. A notice may leave at now plus its grouping wait:
// escalation steps and reminders do not wait (they are late enough), a
// firing notice or resolution waits its rule's or severity's window.
func (d *Dispatcher) notices(due []Due, now time.Time) []*Notice {
	var out []*Notice
	for _, u := range due {
		d.metrics.escalations.WithLabelValues(u.Step).Inc()
		if len(u.Recipients) == 0 {
			d.logger.Warn("nobody to notify for escalation step", "step", u.Step, "target", u.Target, "alert", u.Alert.Fingerprint,
				"facility", u.Alert.Facility, "region", string(u.Alert.Region))
			d.metrics.noRecipient.WithLabelValues(string(u.Kind)).Inc()
		}
		wait := time.Duration(0)
		if u.Kind == KindFiring || u.Kind == KindResolved {
			wait = d.cfg.groupWait(u.Alert.Rule, u.Alert.Severity)
		}
		for _, c := range u.Recipients {
			rid := recipientID(c, d.phones)
			if u.Kind != KindResolved {
				d.esc.Reach(u.Alert.Fingerprint, u.Alert.StartsAt, rid)
			}
			key := entryKey(u.Alert, u.Kind, u.Step, u.Repeat, rid)
			if d.live[key] != nil || d.log.done(key) || slices.ContainsFunc(out, func(n *Notice) bool { return n.Key == key }) {
				continue
			}
			out = append(out, &Notice{Key: key, Recipient: rid, Target: u.Target, Kind: u.Kind, Step: u.Step, Repeat: u.Repeat,
				Alert: u.Alert, Queued: now, Due: now.Add(wait)})
		}
	}
	return out
}

// cancelPending drops the notices of alert fp that have not left: on
// acknowledgement all but resolutions, on resolution the escalations and
// reminders (keepFiring: an alert that fires and resolves within its
// group's wait is still announced, then resolved, so nobody gets "resolved"
// for something they were not told of). Notices in flight are left alone.
func (d *Dispatcher) cancelPending(fp string, keepFiring bool, now time.Time) []string {
	var keys []string
	var entries []LogEntry
	for key, lv := range d.live {
		n := lv.n
		if n.Alert.Fingerprint != fp || lv.inFlight || n.Kind == KindResolved || (keepFiring && n.Kind == KindFiring) {
			continue
		}
		keys = append(keys, key)
		entries = append(entries, LogEntry{At: now, Outcome: OutcomeCancelled, Key: key, Episode: n.Alert.episode(), Kind: n.Kind,
			Alert: fp, Facility: n.Alert.Facility, Recipient: n.Recipient})
		delete(d.live, key)
		d.metrics.notifications.WithLabelValues("none", resultCancelled).Inc()
	}
	slices.Sort(keys)
	d.record(entries...)
	return keys
}

// nextWake is when Run must look again: the earliest escalation step or
// reminder, group deadline or retry. A resolution waiting for its
// announcement does not count: the announcement's own time does, and the
// resolution follows it in the same round.
func (d *Dispatcher) nextWake() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := d.esc.NextTick()
	for _, lv := range d.live {
		if lv.inFlight || (lv.n.Kind == KindResolved && d.awaitsAnnouncement(lv)) {
			continue
		}
		t := lv.n.Due
		if lv.retryAt.After(t) {
			t = lv.retryAt
		}
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// Pending reports how many notices wait to be delivered.
func (d *Dispatcher) Pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.live)
}

// Ack acknowledges an open alert by its code or fingerprint: escalation and
// reminders stop, and the actor is recorded.
func (d *Dispatcher) Ack(ref, actor, source string) (Alert, error) {
	return d.ack(source, actor, func(now time.Time) (Alert, error) { return d.esc.Ack(ref, actor, now) })
}

// AckBySMS acknowledges the open alert with ack code code from an SMS
// reply of the number whose pseudonym (PhoneKey) is pk, only if that
// number was sent the code by SMS (the notification log records the
// pseudonym of every number an episode was sent to). The front door that
// received the reply computes pk under the same key.
func (d *Dispatcher) AckBySMS(code, pk, actor, source string) (Alert, error) {
	return d.ack(source, actor, func(now time.Time) (Alert, error) {
		return d.esc.AckBySMS(code, pk, actor, now, d.log.sentSMS)
	})
}

// PhoneKey is the pseudonym under which notify knows a number.
func (d *Dispatcher) PhoneKey(phone string) string { return d.phones.Key(phone) }

func (d *Dispatcher) ack(source, actor string, do func(now time.Time) (Alert, error)) (Alert, error) {
	now := d.clock.Now()
	d.mu.Lock()
	a, err := do(now)
	var werr error
	if err == nil {
		werr = d.commit(&outboxRecord{Cancel: d.cancelPending(a.Fingerprint, false, now)}, nil, now)
	}
	d.mu.Unlock()
	switch {
	case errors.Is(err, ErrUnknownAck):
		d.metrics.acks.WithLabelValues(source, "unknown").Inc()
		return a, err
	case errors.Is(err, ErrNotRecipient):
		d.metrics.acks.WithLabelValues(source, "wrong_sender").Inc()
		return a, err
	case err != nil:
		d.metrics.stateErrors.Inc()
		return a, fmt.Errorf("notify: ack: %w", err)
	case werr != nil:
		// Acknowledged in memory; the outbox write is retried with the next
		// change. Escalation stops now either way.
		d.metrics.stateErrors.Inc()
		d.logger.Error("acknowledgement not yet on disk", "alert", a.Fingerprint, "err", werr)
	}
	d.metrics.acks.WithLabelValues(source, "ok").Inc()
	d.record(LogEntry{At: now, Outcome: OutcomeAcked, Alert: a.Fingerprint, Episode: a.episode(), Facility: a.Facility, Detail: source + ": " + actor})
	d.logger.Info("alert acknowledged", "alert", a.Fingerprint, "facility", a.Facility, "source", source)
	if d.onAck != nil {
		d.onAck(a, actor, source)
	}
	d.kick()
	return a, nil
}

// record appends to the notification log; a failed write is counted and
// logged, not fatal: the message already went out. OnRecord hears of each
// entry either way.
func (d *Dispatcher) record(es ...LogEntry) {
	if err := d.log.append(es...); err != nil {
		d.metrics.stateErrors.Inc()
		d.logger.Error("notification log write failed", "err", err)
	}
	if d.onRecord != nil {
		for _, e := range es {
			d.onRecord(e)
		}
	}
}

// indexContacts maps every contact of the directory by recipient id. Two
// different contacts under one id would make messages go astray: the
// first is kept and the clash logged.
// contact finds the recipient with the id for a notice about a: in the
// configured directory, or among the facility's operators the directory's
// OperatorsFor gives now (the registry: an operator added or changed there
// is reached without a restart).
func (d *Dispatcher) contact(id string, a Alert) (Contact, bool) {
	if c, ok := d.contacts[id]; ok {
		return c, true
	}
	if d.cfg.Directory.OperatorsFor != nil {
		for _, c := range d.cfg.Directory.OperatorsFor(a.Facility) {
			if recipientID(c, d.phones) == id {
				return c, true
			}
		}
	}
	return Contact{}, false
}

func (d *Dispatcher) indexContacts(dir Directory) map[string]Contact {
	logger := d.logger
	out := map[string]Contact{}
	for _, group := range []map[string][]Contact{dir.Operators, dir.Regions} {
		for _, k := range slices.Sorted(maps.Keys(group)) {
			for _, c := range group[k] {
				id := recipientID(c, d.phones)
				if old, ok := out[id]; ok && old != c {
					logger.Warn("two contacts share one id; the first is used", "id", id)
					continue
				}
				out[id] = c
			}
		}
	}
	return out
}

// Lookup finds the open alert (still escalating or acknowledged, not yet
// resolved) with code or fingerprint ref.
func (d *Dispatcher) Lookup(ref string) (Alert, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.esc.find(ref)
	if s == nil {
		return Alert{}, false
	}
	return s.Alert, true
}
