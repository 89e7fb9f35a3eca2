package alerting

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/recordlog"
	"github.com/cradlewatch/cradlewatch/model"
)

// Nothing the broker handed over is lost to a crash of this service. A
// message is acknowledged to the broker (PUBACK) only once everything it
// changed is on disk:
//
//   - its alert transitions, in the state store's write-ahead log (fsynced
//     by the engine's goroutine before it takes the next message);
//   - what its readings taught the rules' memory (rolling windows, last
//     values), in the series journal: each evaluated batch is written to
//     it, and the acknowledger fsyncs the journal once for all the
//     messages it then acknowledges (a group commit). The snapshot of the
//     rules' memory (series.json) covers the journals up to the one it
//     names; they are deleted once it is written.
//
// A message not acknowledged when the service dies is handed over again by
// the broker (a persistent session under a stable client ID) and evaluated
// again: its transitions are already in the state store (an alert firing
// stays firing, without a second notice) and its readings in the windows
// (a rolling mean recognises readings it holds). A crash therefore costs
// no evaluation, and the rolling means after the restart are those of a
// run without the crash.
//
// paho sends a PUBACK when msg.Ack is called; the service calls it from
// its own goroutine (ackLoop), never from the engine's: Ack can wait for
// the connection's writer, and after a reconnect paho drops acks of
// messages received on the old connection (the broker hands those over
// again, harmlessly).

// SeriesJournal is the prefix of the journals' files in state_dir:
// series.journal.<number>.
const SeriesJournal = "series.journal"

// seriesJournal is the journal of evaluated batches since the last
// snapshot of the rules' memory: record = evaluation time (Unix ns, 8
// bytes little endian) and the batch in the wire format, after the
// registry's checks (only registered devices, rooms from the registry).
type seriesJournal struct {
	dir    string
	log    *slog.Logger
	reg    prometheus.Registerer
	errors prometheus.Counter

	mu  sync.Mutex
	seq uint64         // number of the current file
	cur *recordlog.Log // nil after a failed rotation: written again at the next one
	buf []byte
}

// journalFiles lists the journal files in dir by number.
func journalFiles(dir string) (map[uint64]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	out := map[uint64]string{}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), SeriesJournal+".")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(rest, 10, 64); err == nil {
			out[n] = filepath.Join(dir, e.Name())
		}
	}
	return out, nil
}

// openJournal deletes the journals the snapshot covers (up to covered),
// hands every batch of the later ones to remember in order, and opens a
// new journal after them.
func openJournal(dir string, covered uint64, remember func(*model.Batch, time.Time), log *slog.Logger, reg prometheus.Registerer) (*seriesJournal, int, error) {
	j := &seriesJournal{dir: dir, log: log, reg: reg,
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_alerting_series_journal_errors_total",
			Help: "Failed writes, fsyncs and rotations of the series journal (what a crash would then forget of the rolling means; the messages are acknowledged all the same, so the broker does not stall)."})}
	reg.MustRegister(j.errors)
	files, err := journalFiles(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("alerting: series journal: %w", err)
	}
	nums := slices.Sorted(func(yield func(uint64) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	})
	j.seq = covered
	batches := 0
	var b model.Batch
	for _, n := range nums {
		j.seq = max(j.seq, n)
		if n <= covered {
			j.remove(files[n])
			continue
		}
		l, err := recordlog.Open(recordlog.Options{Path: files[n], Name: "alerting_series_journal", Logger: log, Registerer: reg}, func(rec []byte) error {
			if len(rec) < 8 {
				return errors.New("short journal record")
			}
			if err := model.DecodeBatch(rec[8:], &b); err != nil {
				return err
			}
			remember(&b, time.Unix(0, int64(binary.LittleEndian.Uint64(rec))))
			batches++
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("alerting: series journal: %w", err)
		}
		l.Close()
	}
	j.seq++
	if j.cur, err = j.open(j.seq); err != nil {
		return nil, 0, err
	}
	return j, batches, nil
}

func (j *seriesJournal) open(n uint64) (*recordlog.Log, error) {
	path := filepath.Join(j.dir, fmt.Sprintf("%s.%d", SeriesJournal, n))
	l, err := recordlog.Open(recordlog.Options{Path: path, Name: "alerting_series_journal", Logger: j.log, Registerer: j.reg}, nil)
	if err != nil {
		return nil, fmt.Errorf("alerting: series journal: %w", err)
	}
	return l, nil
}

func (j *seriesJournal) remove(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		j.errors.Inc()
		j.log.Error("series journal: removing a journal the snapshot covers failed", "file", path, "err", err)
	}
}

// add writes an evaluated batch, without an fsync (sync does it for the
// messages it acknowledges).
func (j *seriesJournal) add(b *model.Batch, evaluated time.Time) {
	if j == nil || len(b.Readings) == 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cur == nil {
		return // counted when the rotation failed
	}
	j.buf = binary.LittleEndian.AppendUint64(j.buf[:0], uint64(evaluated.UnixNano()))
	j.buf = model.EncodeBatch(j.buf, b)
	if err := j.cur.Write(j.buf); err != nil {
		j.errors.Inc()
		j.log.Error("series journal: write failed; a crash would forget this batch's readings in the rolling means", "err", err)
	}
}

// sync makes what add wrote durable.
func (j *seriesJournal) sync() {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cur == nil {
		return
	}
	if err := j.cur.Sync(); err != nil {
		j.errors.Inc()
		j.log.Error("series journal: fsync failed", "err", err)
	}
}

// rotate closes the current journal (fsynced) and starts the next one; it
// returns the number of the closed one, which a snapshot taken now covers.
// Call it on the engine's goroutine, right after SnapshotSeries.
func (j *seriesJournal) rotate() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	covered := j.seq
	if j.cur != nil {
		if err := j.cur.Close(); err != nil {
			j.errors.Inc()
			j.log.Error("series journal: closing failed", "err", err)
		}
	}
	j.seq++
	var err error
	if j.cur, err = j.open(j.seq); err != nil {
		j.errors.Inc()
		j.log.Error("series journal: cannot start the next journal; evaluated batches are not journalled until the next snapshot", "err", err)
	}
	return covered
}

// drop deletes the journals up to n, which a snapshot now on disk covers.
func (j *seriesJournal) drop(n uint64) {
	files, err := journalFiles(j.dir)
	if err != nil {
		j.errors.Inc()
		return
	}
	j.mu.Lock()
	current := j.seq
	j.mu.Unlock()
	for k, path := range files {
		if k <= n && k != current {
			j.remove(path)
		}
	}
}

func (j *seriesJournal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cur == nil {
		return nil
	}
	err := j.cur.Close()
	j.cur = nil
	return err
}

// pubackQueue bounds the messages evaluated and waiting for their
// acknowledgement; the broker's in-flight window (max_inflight_messages,
// 1000 in deploy/mosquitto) keeps it far below.
const pubackQueue = inQueue

// acker acknowledges messages to the broker once what they changed is on
// disk (see the top of this file).
type acker struct {
	q    chan func()
	acks prometheus.Counter
}

func newAcker(reg prometheus.Registerer) *acker {
	a := &acker{q: make(chan func(), pubackQueue), acks: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cw_alerting_messages_acked_total",
		Help: "Messages acknowledged to the broker after their evaluation was on disk (transitions in the state store, readings in the series journal).",
	})}
	reg.MustRegister(a.acks)
	return a
}

// ackAfter queues msg's acknowledgement; the engine's goroutine calls it
// once msg is evaluated and its transitions are in the state store.
func (s *Service) ackAfter(ctx context.Context, msg message) {
	if msg.ack == nil {
		return
	}
	select {
	case s.acker.q <- msg.ack:
	case <-ctx.Done(): // not acknowledged: the broker hands it over again
	}
}

// ackLoop acknowledges what the engine evaluated: it takes every
// acknowledgement waiting, fsyncs the series journal once for all of them,
// then acknowledges them.
func (s *Service) ackLoop(ctx context.Context) error {
	var batch []func()
	for {
		select {
		case <-ctx.Done():
			return nil
		case f := <-s.acker.q:
			batch = append(batch[:0], f)
		}
	more:
		for len(batch) < cap(s.acker.q) {
			select {
			case f := <-s.acker.q:
				batch = append(batch, f)
			default:
				break more
			}
		}
		s.journal.sync()
		for _, f := range batch {
			f()
		}
		s.acker.acks.Add(float64(len(batch)))
	}
}

// restoreSeries gives the engine its memory back: the snapshot, then the
// journals of what was evaluated after it; it opens the journal for what
// comes next. It returns how many thresholds and journalled batches were
// restored.
func (s *Service) restoreSeries() (thresholds, batches int, err error) {
	s.series = newSeriesFile(s.cfg.StateDir, s.log, s.o.Registerer)
	snap := s.series.load()
	thresholds = s.engine.RestoreSeries(snap)
	if s.journal, batches, err = openJournal(s.cfg.StateDir, snap.Journal, s.engine.Remember, s.log, s.o.Registerer); err != nil {
		return 0, 0, err
	}
	s.onClose(s.journal.close)
	s.series.saved = s.journal.drop
	s.acker = newAcker(s.o.Registerer)
	return thresholds, batches, nil
}

// takeSeries snapshots the rules' memory and rotates the journal, which
// the snapshot then covers. On the engine's goroutine.
func (s *Service) takeSeries() rules.SeriesSnapshot {
	snap := s.engine.SnapshotSeries(s.o.Clock())
	snap.Journal = s.journal.rotate()
	return snap
}
