package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	accesssetup "github.com/cradlewatch/cradlewatch/access/setup"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/access/web"
	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
)

// The audit trail of an alerting instance (docs/security.md, "The audit
// trail"): every alert transition, notification outcome, acknowledgement
// and silence is a record of the instance's own chain (access.trail.chain)
// in the access database, with its actor: the person or token of the
// front door's command, the replying number's pseudonym for an SMS reply,
// service:alerting-<shard> for what the engine does by itself.
//
// Nothing of the alerting path waits for it. Events go through a queue to
// the audit writer's goroutine, which appends them to its local buffer
// (fsynced); the writer moves them to the database when it answers. A
// full queue drops the event, counted (cw_alerting_audit_dropped_total)
// and logged at most once a minute.

// auditQueue bounds the events waiting for the writer.
const auditQueue = 8192

// auditor queues events for the instance's audit writer.
type auditor struct {
	w       *audit.Writer
	sink    *auditSink
	q       chan audit.Event
	dropped *prometheus.CounterVec
	log     *slog.Logger
	warn    *web.LogThrottle
	// service is the instance's own actor.
	service access.Principal
}

// auditSink is the access database as the writer's sink, opened on first
// use and again after a failed attempt: an alerting instance starts and
// notifies while the database is away, its records waiting in the local
// buffer.
type auditSink struct {
	o  store.Options
	mu sync.Mutex
	st *store.Store
}

func (s *auditSink) get(ctx context.Context) (*store.Store, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil {
		st, err := store.Open(ctx, s.o)
		if err != nil {
			return nil, err
		}
		s.st = st
	}
	return s.st, nil
}

// AppendAudit implements audit.Sink.
func (s *auditSink) AppendAudit(ctx context.Context, recs []audit.Record) error {
	st, err := s.get(ctx)
	if err != nil {
		return err
	}
	return st.AppendAudit(ctx, recs)
}

// AuditHead implements audit.Sink.
func (s *auditSink) AuditHead(ctx context.Context, chain string) (audit.Record, bool, error) {
	st, err := s.get(ctx)
	if err != nil {
		return audit.Record{}, false, err
	}
	return st.AuditHead(ctx, chain)
}

// InsertAnchor implements audit.Sink.
func (s *auditSink) InsertAnchor(ctx context.Context, a audit.Anchor) error {
	st, err := s.get(ctx)
	if err != nil {
		return err
	}
	return st.InsertAnchor(ctx, a)
}

func (s *auditSink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil {
		return nil
	}
	err := s.st.Close()
	s.st = nil
	return err
}

// newAuditor opens the local buffer of the instance's chain. dataDirs are
// the instance's data directories: the anchor key must lie outside them.
func newAuditor(c accesssetup.Config, shard int, dataDirs []string, now func() time.Time, log *slog.Logger, reg prometheus.Registerer) (*auditor, error) {
	so, err := c.Database.StoreOptions("access.database", log)
	if err != nil {
		return nil, err
	}
	var signing []byte
	if c.Audit.AnchorKeyFile != "" {
		k, err := audit.LoadSigningKey(c.Audit.AnchorKeyFile, append([]string{c.Audit.SpoolDir}, dataDirs...)...)
		if err != nil {
			return nil, fmt.Errorf("access.trail.anchor_key_file: %w", err)
		}
		signing = k
	}
	a := &auditor{sink: &auditSink{o: so}, q: make(chan audit.Event, auditQueue), log: log.With("component", "audit"),
		service: audit.Service("alerting-" + strconv.Itoa(shard)),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_alerting_audit_dropped_total",
			Help: "Audit events of the alerting path not recorded, by reason (queue_full: the writer was behind; append: its local buffer refused)."}, []string{"reason"})}
	a.warn = web.NewLogThrottle(a.log, time.Minute, now)
	if err := reg.Register(a.dropped); err != nil {
		return nil, fmt.Errorf("alerting: %w", err)
	}
	if a.w, err = audit.NewWriter(audit.WriterOptions{Chain: c.Audit.Chain, Dir: c.Audit.SpoolDir, Sink: a.sink, SigningKey: signing,
		AnchorEvery: c.Audit.AnchorEvery, MaxBuffer: c.Audit.MaxBufferBytes, Now: now, Logger: log, Registerer: reg}); err != nil {
		a.sink.close()
		return nil, err
	}
	return a, nil
}

// add queues ev; it never blocks (it runs on the engine's goroutine and
// under the notification path's lock).
func (a *auditor) add(ev audit.Event) {
	select {
	case a.q <- ev:
	default:
		a.dropped.WithLabelValues("queue_full").Inc()
		a.warn.Warn("queue_full", "audit queue full: event not recorded", "action", ev.Action, "facility", ev.Facility)
	}
}

// run appends queued events until ctx ends, then what is left in the
// queue, and stores them through the writer.
func (a *auditor) run(ctx context.Context) error {
	g := make(chan error, 1)
	wctx, cancel := context.WithCancel(context.Background())
	go func() { g <- a.w.Run(wctx) }()
	defer func() { cancel(); <-g }()
	for {
		select {
		case ev := <-a.q:
			a.append(ev)
		case <-ctx.Done():
			for {
				select {
				case ev := <-a.q:
					a.append(ev)
				default:
					return nil
				}
			}
		}
	}
}

func (a *auditor) append(ev audit.Event) {
	if _, err := a.w.Append(ev); err != nil {
		a.dropped.WithLabelValues("append").Inc()
		a.warn.Warn("append", "audit record not written", "action", ev.Action, "err", err)
	}
}

func (a *auditor) close() error {
	err := a.w.Close()
	if serr := a.sink.close(); err == nil {
		err = serr
	}
	return err
}

// transition records an alert transition the engine made by itself.
func (s *Service) auditTransition(tr rules.Transition) {
	if tr.From == tr.To || tr.Actor != "" {
		return // a re-emission; an acknowledgement is recorded with its actor by the command
	}
	region := ""
	if f := s.facility(tr.Alert.Facility); f != nil {
		region = string(f.Region)
	}
	a := tr.Alert
	s.trail.add(audit.Event{Actor: s.trail.service, Action: audit.ActionAlertTransition, Facility: a.Facility, Region: region,
		Subject: a.Fingerprint, Detail: map[string]any{"from": tr.From.String(), "to": tr.To.String(), "at": tr.At.UTC().Format(time.RFC3339Nano),
			"rule": a.Rule, "severity": a.Severity.String(), "room": a.Room, "device": a.Device, "value": finite(a.Value),
			"limit": finite(a.Limit), "notify": tr.Notify}})
}

// auditNotification records an outcome of the notification path; the
// number appears as its keyed pseudonym only. An acknowledgement is
// recorded with its actor by the command that made it.
func (s *Service) auditNotification(e notify.LogEntry) {
	if e.Outcome == notify.OutcomeAcked {
		return
	}
	region := ""
	if f := s.facility(e.Facility); f != nil {
		region = string(f.Region)
	}
	detail := map[string]any{"outcome": e.Outcome, "kind": string(e.Kind), "recipient": e.Recipient, "channel": string(e.Channel),
		"episode": e.Episode}
	for k, v := range map[string]string{"phone_key": e.PhoneKey, "detail": e.Detail} {
		if v != "" {
			detail[k] = v
		}
	}
	if e.Partial {
		detail["partial"] = true
	}
	if e.Fallback {
		detail["fallback"] = true
	}
	s.trail.add(audit.Event{Actor: s.trail.service, Action: audit.ActionNotification, Facility: e.Facility, Region: region,
		Subject: e.Alert, Detail: detail})
}

// finite is v for JSON, nil when JSON cannot hold it.
func finite(v float64) any {
	if p := finitePtr(v); p != nil {
		return *p
	}
	return nil
}
