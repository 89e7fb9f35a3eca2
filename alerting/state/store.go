package state

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
)

const (
	snapshotName = "snapshot.json"
	walName      = "wal"
	historyName  = "history.jsonl"
	headerLen    = 8
	// maxRecord bounds a record's length so that a corrupt length cannot
	// make Open allocate gigabytes.
	maxRecord = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CorruptError says where the wal stopped being readable.
type CorruptError struct {
	Path   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state: %s: corrupt record at offset %d: %s; later records dropped", e.Path, e.Offset, e.Reason)
}

// record is one wal entry: a transition, or a notification receipt.
type record struct {
	Transition *rules.Transition `json:"transition,omitempty"`
	Notified   *receipt          `json:"notified,omitempty"`
}

// receipt identifies a notified transition.
type receipt struct {
	Fingerprint string      `json:"fingerprint"`
	To          rules.State `json:"to"`
	At          time.Time   `json:"at"`
}

type snapshot struct {
	Alerts []rules.Alert      `json:"alerts"`
	Unsent []rules.Transition `json:"unsent"`
}

// Options carry the store's dependencies.
type Options struct {
	Dir        string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Store is the durable alert state. It is safe for use by one goroutine.
type Store struct {
	dir     string
	log     *slog.Logger
	wal     *os.File
	alerts  map[string]rules.Alert
	unsent  map[receipt]rules.Transition
	appends prometheus.Counter
	corrupt prometheus.Counter
	fsync   prometheus.Histogram
}

// Open loads the directory (creating it), compacts it and opens the wal.
func Open(o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{dir: o.Dir, log: o.Logger.With("component", "state"),
		alerts: map[string]rules.Alert{}, unsent: map[receipt]rules.Transition{},
		appends: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_alerting_state_appends_total", Help: "Records appended to the alert state wal."}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_alerting_state_corrupt_records_total", Help: "Torn or corrupt wal records found at open; the wal is truncated there."}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cw_alerting_state_fsync_seconds", Help: "Duration of wal fsyncs.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.appends, s.corrupt, s.fsync)
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	if err := s.readSnapshot(); err != nil {
		return nil, err
	}
	recs, err := s.readWAL()
	if err != nil {
		var ce *CorruptError
		if !errors.As(err, &ce) {
			return nil, err
		}
		s.corrupt.Inc()
		s.log.Error("alert state wal truncated", "err", err)
	}
	for _, r := range recs {
		s.apply(r)
	}
	if err := s.compact(recs); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) apply(r record) {
	switch {
	case r.Transition != nil:
		tr := *r.Transition
		a := tr.Alert
		a.State = tr.To
		if tr.To == rules.Resolved || tr.To == rules.Inactive {
			delete(s.alerts, a.Fingerprint)
		} else {
			s.alerts[a.Fingerprint] = a
		}
		if tr.Notify {
			s.unsent[receipt{a.Fingerprint, tr.To, tr.At.UTC()}] = tr
		}
	case r.Notified != nil:
		k := *r.Notified
		k.At = k.At.UTC()
		delete(s.unsent, k)
	}
}

func (s *Store) readSnapshot() error {
	b, err := os.ReadFile(filepath.Join(s.dir, snapshotName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		// The snapshot is written by rename, so it is whole or absent;
		// a broken one is not something to guess around.
		return fmt.Errorf("state: %s: %w", filepath.Join(s.dir, snapshotName), err)
	}
	for _, a := range snap.Alerts {
		s.alerts[a.Fingerprint] = a
	}
	for _, tr := range snap.Unsent {
		s.unsent[receipt{tr.Alert.Fingerprint, tr.To, tr.At.UTC()}] = tr
	}
	return nil
}

func (s *Store) readWAL() ([]record, error) {
	path := filepath.Join(s.dir, walName)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var recs []record
	var off int64
	var hdr [headerLen]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if err == io.EOF {
				return recs, nil
			}
			return recs, &CorruptError{path, off, "torn header"}
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n > maxRecord {
			return recs, &CorruptError{path, off, fmt.Sprintf("length %d too large", n)}
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			return recs, &CorruptError{path, off, "torn payload"}
		}
		if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			return recs, &CorruptError{path, off, "checksum mismatch"}
		}
		var r record
		if err := json.Unmarshal(p, &r); err != nil {
			return recs, &CorruptError{path, off, err.Error()}
		}
		recs = append(recs, r)
		off += headerLen + int64(n)
	}
}

// compact writes the snapshot, moves the wal's transitions to the history
// and starts an empty wal.
func (s *Store) compact(recs []record) error {
	if len(recs) > 0 {
		h, err := os.OpenFile(filepath.Join(s.dir, historyName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		enc := json.NewEncoder(h)
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				h.Close()
				return fmt.Errorf("state: history: %w", err)
			}
		}
		if err := h.Close(); err != nil {
			return fmt.Errorf("state: history: %w", err)
		}
	}
	snap := snapshot{Alerts: s.Alerts(), Unsent: s.Unsent()}
	b, err := json.MarshalIndent(snap, "", " ")
	if err != nil {
		return fmt.Errorf("state: snapshot: %w", err)
	}
	if err := writeAtomic(s.dir, snapshotName, b); err != nil {
		return err
	}
	wal, err := os.OpenFile(filepath.Join(s.dir, walName), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := wal.Sync(); err != nil {
		wal.Close()
		return fmt.Errorf("state: %w", err)
	}
	s.wal = wal
	return nil
}

func writeAtomic(dir, name string, b []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("state: %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("state: %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("state: %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("state: fsync %s: %w", dir, err)
	}
	return nil
}

func (s *Store) append(r record) error {
	p, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("state: encode: %w", err)
	}
	buf := make([]byte, headerLen+len(p))
	binary.LittleEndian.PutUint32(buf[:4], uint32(len(p)))
	binary.LittleEndian.PutUint32(buf[4:8], crc32.Checksum(p, castagnoli))
	copy(buf[headerLen:], p)
	if _, err := s.wal.Write(buf); err != nil {
		return fmt.Errorf("state: append: %w", err)
	}
	start := time.Now() // measures the disk, not event logic
	if err := s.wal.Sync(); err != nil {
		return fmt.Errorf("state: fsync: %w", err)
	}
	s.fsync.Observe(time.Since(start).Seconds())
	s.appends.Inc()
	s.apply(r)
	return nil
}

// Append records transitions durably, one fsync each.
func (s *Store) Append(trs ...rules.Transition) error {
	for i := range trs {
		if err := s.append(record{Transition: &trs[i]}); err != nil {
			return err
		}
	}
	return nil
}

// MarkNotified records that the notifier accepted the transition.
func (s *Store) MarkNotified(tr rules.Transition) error {
	return s.append(record{Notified: &receipt{tr.Alert.Fingerprint, tr.To, tr.At.UTC()}})
}

// Alerts are the current pending, firing and acknowledged alerts, ordered
// by fingerprint, for rules.Engine.Restore.
func (s *Store) Alerts() []rules.Alert {
	out := make([]rules.Alert, 0, len(s.alerts))
	for _, a := range s.alerts {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Fingerprint < out[j].Fingerprint })
	return out
}

// Unsent are the transitions to notify that no MarkNotified confirmed,
// oldest first.
func (s *Store) Unsent() []rules.Transition {
	out := make([]rules.Transition, 0, len(s.unsent))
	for _, tr := range s.unsent {
		out = append(out, tr)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Alert.Fingerprint < out[j].Alert.Fingerprint
	})
	return out
}

// Close closes the wal.
func (s *Store) Close() error { return s.wal.Close() }
