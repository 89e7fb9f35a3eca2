package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/internal/recordlog"
	"github.com/prometheus/client_golang/prometheus"
)

// Writer defaults.
const (
	DefaultAnchorEvery = 10 * time.Minute
	DefaultMaxBuffer   = 256 << 20 // bytes of local buffer before Append refuses
	DefaultRetryMin    = time.Second
	DefaultRetryMax    = time.Minute
	flushBatch         = 500
	startupTimeout     = 5 * time.Second
	closeTimeout       = 5 * time.Second
)

// Event is something to record. Actor is the authenticated identity
// (access.FromContext) or Service(name) for what a service does by itself
// (an alert transition, a notification); it is never taken from a request
// body.
type Event struct {
	Time     time.Time // when it happened; zero: the writer's clock
	Actor    access.Principal
	Action   string
	Facility string
	Region   string
	Subject  string
	Detail   any // marshalled as a JSON object; nil gives {}
}

// Service is the actor of what a CradleWatch service does by itself.
func Service(name string) access.Principal {
	return access.Principal{Kind: access.KindService, ID: name, Name: name}
}

// ErrBufferFull is returned by Append when the database has been away so
// long that the local buffer reached MaxBuffer. The record is not written;
// the caller logs it and carries on (a safety notice never waits for the
// audit trail).
var ErrBufferFull = errors.New("audit: local buffer full")

// WriterOptions build a Writer.
type WriterOptions struct {
	// Chain names the writer's chain. It must be unique among running
	// processes ("alerting-0", "console-1"): each chain has one writer, so
	// no cross-process lock is needed.
	Chain string
	// Dir holds the local buffer, <chain>.spool; it must persist.
	Dir  string
	Sink Sink
	// SigningKey signs the chain head every AnchorEvery (nil: this
	// writer does not anchor; `cwadmin audit anchor` can).
	SigningKey  ed25519.PrivateKey
	AnchorEvery time.Duration
	MaxBuffer   int64
	RetryMin    time.Duration
	RetryMax    time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
}

// Writer appends events to its chain. Append computes the record's place
// and hash, writes it to the local buffer and fsyncs: it never waits for
// the database. Run moves buffered records to the Sink in order, retrying
// while the database is away, and anchors the head.
type Writer struct {
	o    WriterOptions
	log  *slog.Logger
	path string
	m    writerMetrics
	wake chan struct{}

	flushMu sync.Mutex // one Flush at a time

	mu         sync.Mutex
	spool      *recordlog.Log // nil once closed
	seq        int64
	prev       string
	pending    []Record // in the spool, not yet stored
	head       Record   // last record appended
	full       bool     // ErrBufferFull logged
	anchoredAt time.Time
	anchorSeq  int64
	stored     Record // last record the Sink took
	failing    bool   // the Sink is failing (logged once per outage)
}

type writerMetrics struct {
	appended, stored, flushFailures, anchors prometheus.Counter
	dropped, spoolBad                        *prometheus.CounterVec
	buffered                                 prometheus.GaugeFunc
}

var chainName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// NewWriter opens the local buffer, learns the chain's head (from the
// database if it answers within a few seconds, else from the buffer) and
// sets aside any corrupt buffered record (quarantined beside the buffer,
// counted, logged, and recorded in the chain itself).
func NewWriter(o WriterOptions) (*Writer, error) {
	if !chainName.MatchString(o.Chain) {
		return nil, fmt.Errorf("audit: chain name %q: letters, digits, '.', '_' and '-', at most 64", o.Chain)
	}
	if o.Dir == "" || o.Sink == nil {
		return nil, errors.New("audit: a writer needs a directory and a sink")
	}
	if o.AnchorEvery <= 0 {
		o.AnchorEvery = DefaultAnchorEvery
	}
	if o.MaxBuffer <= 0 {
		o.MaxBuffer = DefaultMaxBuffer
	}
	if o.RetryMin <= 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(DefaultRetryMax, o.RetryMin)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	w := &Writer{o: o, log: o.Logger.With("component", "audit", "chain", o.Chain),
		path: filepath.Join(o.Dir, o.Chain+".spool"), wake: make(chan struct{}, 1), prev: Genesis(o.Chain)}
	w.m = newWriterMetrics(w, o.Chain)
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{w.m.appended, w.m.stored, w.m.flushFailures, w.m.anchors, w.m.dropped, w.m.spoolBad, w.m.buffered} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("audit: %w", err)
			}
		}
	}
	if err := w.recover(); err != nil {
		return nil, err
	}
	return w, nil
}

func newWriterMetrics(w *Writer, chain string) writerMetrics {
	l := prometheus.Labels{"chain": chain}
	return writerMetrics{
		appended: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_access_audit_appended_total", ConstLabels: l,
			Help: "Audit records appended (written to the local buffer)."}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_access_audit_stored_total", ConstLabels: l,
			Help: "Audit records stored in the access database."}),
		flushFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_access_audit_flush_failures_total", ConstLabels: l,
			Help: "Failed attempts to store buffered audit records (retried)."}),
		anchors: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_access_audit_anchors_total", ConstLabels: l,
			Help: "Signed anchors of the chain head stored."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_access_audit_dropped_total", ConstLabels: l,
			Help: "Audit events not recorded, by reason (buffer_full, write_error, encode_error)."}, []string{"reason"}),
		spoolBad: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_access_audit_spool_bad_records_total", ConstLabels: l,
			Help: "Local buffer records set aside into the quarantine file at start, by kind (torn, corrupt)."}, []string{"kind"}),
		buffered: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cw_access_audit_buffered_records", ConstLabels: l,
			Help: "Audit records in the local buffer not yet stored in the database."}, func() float64 {
			w.mu.Lock()
			defer w.mu.Unlock()
			return float64(len(w.pending))
		}),
	}
}

// recover reads the buffer, asks the sink for the head, and rewrites the
// buffer with what is still to be stored.
func (w *Writer) recover() error {
	var recs []Record
	spool, err := recordlog.Open(recordlog.Options{Path: w.path, Name: "audit_" + w.o.Chain, Logger: w.log, Registerer: w.o.Registerer},
		func(b []byte) error {
			r, err := decodeRecord(b)
			if err != nil {
				return err
			}
			recs = append(recs, r)
			return nil
		})
	if err != nil {
		return fmt.Errorf("audit: open %s: %w", w.path, err)
	}
	w.spool = spool
	now := w.o.Now()
	bad := spool.Recovery().Regions
	for _, g := range bad {
		w.m.spoolBad.WithLabelValues(spoolBadKind(g)).Inc()
		w.log.Error("audit buffer: bad record set aside", "kind", g.Kind, "offset", g.Offset, "bytes", g.Len, "reason", g.Reason,
			"quarantine", w.path+recordlog.QuarantineSuffix)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	dbHead, inDB, dbErr := w.o.Sink.AuditHead(ctx, w.o.Chain)
	cancel()
	if dbErr != nil {
		w.log.Warn("audit database not reachable at start; continuing from the local buffer", "err", dbErr)
	}
	if inDB {
		w.seq, w.prev, w.head, w.stored = dbHead.Seq, dbHead.Hash, dbHead, dbHead
	}
	for _, r := range recs {
		if r.Chain != w.o.Chain {
			return fmt.Errorf("audit: %s holds a record of chain %q", w.path, r.Chain)
		}
		if inDB && r.Seq == dbHead.Seq && r.Hash != dbHead.Hash {
			return fmt.Errorf("%w: %s #%d differs from the database; another process writes chain %q?", ErrChainConflict, w.path, r.Seq, w.o.Chain)
		}
		if inDB && r.Seq <= dbHead.Seq {
			continue // stored already
		}
		w.pending = append(w.pending, r)
		if r.Seq > w.seq {
			w.seq, w.prev, w.head = r.Seq, r.Hash, r
		}
	}
	if err := w.rewrite(); err != nil {
		return err
	}
	var errs []error
	for _, g := range bad {
		_, err := w.Append(Event{Time: now, Actor: Service(w.o.Chain), Action: ActionSpoolQuarantine,
			Detail: map[string]any{"file": filepath.Base(w.path) + recordlog.QuarantineSuffix, "offset": g.Offset, "bytes": g.Len,
				"kind": spoolBadKind(g), "error": g.Kind.String() + " " + g.Reason}})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// spoolBadKind names a damaged region of the buffer for the metric and the
// chain: torn (a crash cut an append short) or corrupt (anything else).
func spoolBadKind(g recordlog.Region) string {
	if g.Kind == recordlog.Torn {
		return "torn"
	}
	return "corrupt"
}

// rewrite replaces the buffer with the pending records, or with the head
// alone when nothing is pending (so the head survives a restart while the
// database is away). Called with mu held or before the writer is shared.
func (w *Writer) rewrite() error {
	keep := w.pending
	if len(keep) == 0 && w.head.Seq > 0 {
		keep = []Record{w.head}
	}
	recs := make([][]byte, 0, len(keep))
	for _, r := range keep {
		b, err := encodeRecord(r)
		if err != nil {
			return err
		}
		recs = append(recs, b)
	}
	if err := w.spool.Rewrite(recs); err != nil {
		return fmt.Errorf("audit: rewrite %s: %w", w.path, err)
	}
	return nil
}

// Append records ev: it is given the next place in the chain, written to
// the local buffer and fsynced before Append returns. It never waits for
// the database. It fails only when the local disk fails or the buffer is
// full (ErrBufferFull); the caller logs that and carries on.
func (w *Writer) Append(ev Event) (Record, error) {
	detail := []byte("{}")
	if ev.Detail != nil {
		var err error
		if detail, err = json.Marshal(ev.Detail); err != nil || len(detail) == 0 || detail[0] != '{' {
			w.m.dropped.WithLabelValues("encode_error").Inc()
			return Record{}, fmt.Errorf("audit: detail of %s must be a JSON object: %v", ev.Action, err)
		}
	}
	at := ev.Time
	if at.IsZero() {
		at = w.o.Now()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.spool == nil {
		w.m.dropped.WithLabelValues("write_error").Inc()
		return Record{}, errors.New("audit: writer closed")
	}
	r := Record{Chain: w.o.Chain, Seq: w.seq + 1, Time: at.UTC(), Actor: ev.Actor.Actor(), ActorName: ev.Actor.Name,
		ActorRole: actorRole(ev.Actor), Action: ev.Action, Facility: ev.Facility, Region: ev.Region, Subject: ev.Subject,
		Detail: string(detail), Prev: w.prev}
	r.Hash = r.ComputeHash()
	line, err := encodeRecord(r)
	if err != nil {
		w.m.dropped.WithLabelValues("encode_error").Inc()
		return Record{}, fmt.Errorf("audit: %w", err)
	}
	if w.spool.Size()+int64(len(line)) > w.o.MaxBuffer {
		// Stored records may still fill the file: drop them, then decide.
		if err := w.rewrite(); err != nil {
			w.m.dropped.WithLabelValues("write_error").Inc()
			return Record{}, err
		}
	}
	if w.spool.Size()+int64(len(line)) > w.o.MaxBuffer {
		w.m.dropped.WithLabelValues("buffer_full").Inc()
		if !w.full {
			w.full = true
			w.log.Error("audit buffer full: events are not recorded until the database takes the buffered ones",
				"buffered", len(w.pending), "max_bytes", w.o.MaxBuffer)
		}
		return Record{}, ErrBufferFull
	}
	if err := w.spool.Append(line); err != nil { // written and fsynced
		w.m.dropped.WithLabelValues("write_error").Inc()
		return Record{}, w.writeFailed(err)
	}
	w.seq, w.prev, w.head = r.Seq, r.Hash, r
	w.pending = append(w.pending, r)
	w.m.appended.Inc()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return r, nil
}

// writeFailed handles a failed buffer write: the record may be half there,
// so the buffer is rewritten from memory before the next Append.
func (w *Writer) writeFailed(err error) error {
	if rerr := w.rewrite(); rerr != nil {
		w.log.Error("audit buffer unusable", "err", rerr)
	}
	return fmt.Errorf("audit: write %s: %w", w.path, err)
}

func actorRole(p access.Principal) string {
	switch {
	case p.Role == "":
		return ""
	case p.Role == access.RoleOperator:
		return string(p.Role) + " " + strings.Join(p.Facilities, ",")
	case p.Region.String() != "":
		return string(p.Role) + " " + p.Region.String()
	}
	return string(p.Role)
}

// Head is the last record appended.
func (w *Writer) Head() Record {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.head
}

// Buffered is how many records wait for the database.
func (w *Writer) Buffered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}
