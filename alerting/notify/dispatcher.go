package notify

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Files in Config.StateDir.
const (
	LogFile        = "notifications.log" // notification log (dedup, budgets, dead letters)
	EscalationFile = "escalations.json"  // open alerts and their escalation progress
	SilenceFile    = "silences.json"     // silences added at run time
)

// TickInterval is how often Run checks group deadlines and escalations;
// escalation steps are minutes apart, so a second is plenty.
const TickInterval = time.Second

// Options carry the Dispatcher's configuration and dependencies.
type Options struct {
	Config     Config
	Notifiers  map[Channel]Notifier // one per channel; ChannelSMS is the configured SMS provider
	Clock      Clock                // default RealClock
	Logger     *slog.Logger         // default slog.Default()
	Registerer prometheus.Registerer
	Rand       *rand.Rand     // ack codes and retry jitter; default seeded from crypto/rand
	Location   *time.Location // for times in messages; default Asia/Shanghai (UTC+8 if no tzdata)
	// OnAck is told of every acknowledgement the dispatcher accepts, from
	// any source (HTTP, an SMS reply), so the rule engine can record it with
	// its actor. It must not block.
	OnAck func(a Alert, actor, source string)
}

// Dispatcher turns alert transitions into notifications: escalation, then
// group → silence → dedup → budget → send with retry → record.
type Dispatcher struct {
	cfg       Config
	notifiers map[Channel]Notifier
	clock     Clock
	logger    *slog.Logger
	metrics   *metrics
	onAck     func(a Alert, actor, source string)
	rnd       *rand.Rand
	render    *renderer
	pipeline  Pipeline

	mu       sync.Mutex // guards the fields below
	esc      *Escalator
	groups   map[string]*pending
	silences []Silence
	budget   *budget
	log      *nflog

	sendMu sync.Mutex // one delivery at a time keeps budgets and the log consistent
}

type pending struct {
	n        *Notification
	deadline time.Time
}

// New opens (or creates) the state in cfg.StateDir and builds the path.
func New(o Options) (*Dispatcher, error) {
	cfg := o.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("notify config: %w", err)
	}
	if o.Registerer == nil {
		return nil, errors.New("notify: Options.Registerer is required")
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
	r, err := newRenderer(cfg.Templates, cfg.DefaultLang, cfg.MaxParamRunes, o.Location)
	if err != nil {
		return nil, fmt.Errorf("notify config: %w", err)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("notify: state dir: %w", err)
	}
	d := &Dispatcher{cfg: cfg, notifiers: o.Notifiers, clock: o.Clock, logger: o.Logger.With("component", "notify"),
		metrics: m, onAck: o.OnAck, rnd: o.Rand, render: r, groups: map[string]*pending{}, budget: newBudget(cfg.Budget)}
	d.log, err = openNflog(filepath.Join(cfg.StateDir, LogFile), d.budget.replay)
	if errors.Is(err, ErrCorruptLog) {
		m.logCorrupt.Inc()
		d.logger.Warn("notification log had a corrupt tail; truncated", "err", err)
	} else if err != nil {
		return nil, err
	}
	d.esc, err = NewEscalator(cfg.Policies, cfg.Directory, filepath.Join(cfg.StateDir, EscalationFile), o.Rand)
	if err != nil {
		d.log.close()
		return nil, err
	}
	var runtime []Silence
	if err := loadJSON(filepath.Join(cfg.StateDir, SilenceFile), &runtime); err != nil {
		d.log.close()
		return nil, err
	}
	d.silences = append(append([]Silence{}, cfg.Silences...), runtime...)
	d.pipeline = Pipeline{silenceStage{d}, dedupStage{d}, budgetStage{d}, sendStage{d}, recordStage{d}}
	return d, nil
}

// Close releases the notification log.
func (d *Dispatcher) Close() error {
	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	return d.log.close()
}

// Run calls Tick every TickInterval until ctx is done.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(TickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := d.Tick(ctx); err != nil && ctx.Err() == nil {
				d.logger.Error("notify tick", "err", err)
			}
		}
	}
}

// Handle takes one alert transition from the rule engine. Notifications it
// causes wait group_wait in their group and go out on a later Tick.
func (d *Dispatcher) Handle(ctx context.Context, a Alert) error {
	if err := a.Validate(); err != nil {
		return err
	}
	now := d.clock.Now()
	d.mu.Lock()
	due, err := d.esc.Observe(a)
	if a.State != StateFiring {
		d.dropPending(a.Fingerprint, a.State == StateResolved)
	}
	more, terr := d.esc.Tick(now)
	d.enqueue(append(due, more...), now)
	d.mu.Unlock()
	if err = errors.Join(err, terr); err != nil {
		d.metrics.stateErrors.Inc()
		return fmt.Errorf("notify: escalation state: %w", err)
	}
	return d.flush(ctx, now)
}

// Tick advances escalations and sends every group whose wait is over.
func (d *Dispatcher) Tick(ctx context.Context) error {
	now := d.clock.Now()
	d.mu.Lock()
	due, err := d.esc.Tick(now)
	d.enqueue(due, now)
	d.mu.Unlock()
	if err != nil {
		d.metrics.stateErrors.Inc()
		d.logger.Error("escalation state", "err", err)
	}
	return d.flush(ctx, now)
}

// enqueue adds due notices to their groups: one group per recipient,
// facility and kind, open for group_wait from its first alert.
func (d *Dispatcher) enqueue(due []Due, now time.Time) {
	for _, u := range due {
		d.metrics.escalations.WithLabelValues(u.Step).Inc()
		if len(u.Recipients) == 0 {
			d.logger.Warn("nobody to notify for escalation step", "step", u.Step, "alert", u.Alert.Fingerprint,
				"facility", u.Alert.Facility, "region", string(u.Alert.Region))
		}
		for _, c := range u.Recipients {
			rid := recipientID(c)
			gk := rid + "|" + u.Alert.Facility + "|" + string(u.Kind)
			p := d.groups[gk]
			if p == nil {
				p = &pending{n: &Notification{Recipient: c, Kind: u.Kind, Step: u.Step}, deadline: now.Add(d.cfg.GroupWait)}
				d.groups[gk] = p
			}
			e := Entry{Alert: u.Alert, Step: u.Step, Repeat: u.Repeat, Key: entryKey(u.Alert, u.Kind, u.Step, u.Repeat, rid)}
			replaced := false
			for i := range p.n.Entries {
				if p.n.Entries[i].Alert.Fingerprint == u.Alert.Fingerprint {
					p.n.Entries[i], replaced = e, true
				}
			}
			if !replaced {
				p.n.Entries = append(p.n.Entries, e)
			}
		}
	}
}

// dropPending removes not-yet-sent notices of an alert that was
// acknowledged or resolved, except the resolved notice itself and, when
// keepFiring, the first firing notice: an alert that fires and resolves
// within group_wait is still announced (then resolved), so operators never
// get a "resolved" for something they were not told of.
func (d *Dispatcher) dropPending(fp string, keepFiring bool) {
	for k, p := range d.groups {
		if p.n.Kind == KindResolved || (keepFiring && p.n.Kind == KindFiring) {
			continue
		}
		kept := p.n.Entries[:0]
		for _, e := range p.n.Entries {
			if e.Alert.Fingerprint != fp {
				kept = append(kept, e)
			}
		}
		p.n.Entries = kept
		if len(kept) == 0 {
			delete(d.groups, k)
		}
	}
}

// flush runs the pipeline for every group due at now.
func (d *Dispatcher) flush(ctx context.Context, now time.Time) error {
	d.mu.Lock()
	var ready []string
	for k, p := range d.groups {
		if !now.Before(p.deadline) {
			ready = append(ready, k)
		}
	}
	sort.Strings(ready)
	ns := make([]*Notification, 0, len(ready))
	for _, k := range ready {
		ns = append(ns, d.groups[k].n)
		delete(d.groups, k)
	}
	d.mu.Unlock()
	var errs []error
	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	for _, n := range ns {
		if err := d.pipeline.Exec(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("notify %s: %w", recipientID(n.Recipient), err))
		}
	}
	return errors.Join(errs...)
}

// Pending reports how many notifications wait in groups.
func (d *Dispatcher) Pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.groups)
}

// AddSilence starts a maintenance window; it is saved and survives restarts.
func (d *Dispatcher) AddSilence(s Silence) error {
	_, err := d.addSilence(s)
	return err
}

// addSilence validates, names and saves s. A *silenceError means the
// request was wrong; any other error that the state was not saved.
func (d *Dispatcher) addSilence(s Silence) (Silence, error) {
	if err := s.validate(); err != nil {
		return s, &silenceError{err}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.ID == "" {
		// The count keeps ids unique when a fake or coarse clock repeats.
		s.ID = fmt.Sprintf("s%d-%d", d.clock.Now().UnixNano(), len(d.silences))
	}
	for _, x := range d.silences {
		if x.ID == s.ID {
			return s, &silenceError{fmt.Errorf("id %q: already used", s.ID)}
		}
	}
	runtime := append(slices.Clone(d.silences[len(d.cfg.Silences):]), s)
	if err := saveJSON(filepath.Join(d.cfg.StateDir, SilenceFile), runtime); err != nil {
		return s, err
	}
	d.silences = append(d.silences, s)
	return s, nil
}

func (d *Dispatcher) silencedBy(facility string, t time.Time) (Silence, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.silences {
		if s.covers(facility, t) {
			return s, true
		}
	}
	return Silence{}, false
}

// Ack acknowledges an open alert by its code or fingerprint: escalation and
// reminders stop, and the actor is recorded.
func (d *Dispatcher) Ack(ref, actor, source string) (Alert, error) {
	return d.ack(source, actor, func(now time.Time) (Alert, error) { return d.esc.Ack(ref, actor, now) })
}

// AckBySMS acknowledges the open alert with ack code code from an SMS
// reply of phone, only if that number was sent the code by SMS. Numbers are
// compared by their hash, as the state files keep them.
func (d *Dispatcher) AckBySMS(code, phone, source string) (Alert, error) {
	actor := "sms:" + MaskPhone(phone)
	return d.ack(source, actor, func(now time.Time) (Alert, error) {
		return d.esc.AckBySMS(code, phoneKey(phone), actor, now)
	})
}

func (d *Dispatcher) ack(source, actor string, do func(now time.Time) (Alert, error)) (Alert, error) {
	now := d.clock.Now()
	d.mu.Lock()
	a, err := do(now)
	if err == nil {
		d.dropPending(a.Fingerprint, false)
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
	}
	d.metrics.acks.WithLabelValues(source, "ok").Inc()
	d.sendMu.Lock()
	d.record(LogEntry{At: now, Outcome: OutcomeAcked, Alert: a.Fingerprint, Facility: a.Facility, Detail: source + ": " + actor})
	d.sendMu.Unlock()
	d.logger.Info("alert acknowledged", "alert", a.Fingerprint, "facility", a.Facility, "source", source)
	if d.onAck != nil {
		d.onAck(a, actor, source)
	}
	return a, nil
}
