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
	"github.com/cradlewatch/cradlewatch/internal/fileutil"
	"github.com/cradlewatch/cradlewatch/internal/recordlog"
)

const (
	snapshotName = "snapshot.json"
	walName      = "wal"
	historyName  = "history.jsonl"
	// LogName labels the wal's metrics (cw_recordlog_*{log="alerting_state"}).
	LogName = "alerting_state"
)

// record is one wal entry: a transition, or a notification receipt.
type record struct {
	Transition *rules.Transition `json:"transition,omitempty"`
	// Note is what the actor of a transition said (an acknowledgement's
	// comment), shown in the alert's history.
	Note     string   `json:"note,omitempty"`
	Notified *receipt `json:"notified,omitempty"`
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
	dir    string
	log    *slog.Logger
	wal    *recordlog.Log
	alerts map[string]rules.Alert
	unsent map[receipt]rules.Transition
}

// Open loads the directory (creating it), compacts it and opens the wal.
// Damage in the wal is quarantined by the record log (see package
// recordlog); the records around it are kept.
func Open(o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{dir: o.Dir, log: o.Logger.With("component", "state"),
		alerts: map[string]rules.Alert{}, unsent: map[receipt]rules.Transition{}}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	if err := s.readSnapshot(); err != nil {
		return nil, err
	}
	path := filepath.Join(s.dir, walName)
	if err := s.convertLegacyWAL(path); err != nil {
		return nil, err
	}
	var recs []record
	var err error
	s.wal, err = recordlog.Open(recordlog.Options{Path: path, Name: LogName, Logger: s.log, Registerer: o.Registerer},
		func(b []byte) error {
			var r record
			if err := json.Unmarshal(b, &r); err != nil {
				return err
			}
			if r.Transition == nil && r.Notified == nil {
				return errors.New("empty record")
			}
			recs = append(recs, r)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	for _, r := range recs {
		s.apply(r)
	}
	if err := s.compact(recs); err != nil {
		s.wal.Close()
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

// readLegacyWAL reads a wal written before the record log existed
// (records framed as length, CRC-32C, payload, without a file header) and
// returns its records up to the first bad one; the compaction that follows
// rewrites the wal in the record log's format. It returns nothing for a
// missing file or one in the current format.
func readLegacyWAL(path string) ([]record, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if head, _ := br.Peek(len(recordlog.Header)); len(head) == 0 || string(head) == recordlog.Header {
		return nil, nil
	}
	const maxLegacy = 1 << 20
	recs := []record{}
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			break
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n > maxLegacy {
			break
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil || crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			break
		}
		var r record
		if json.Unmarshal(p, &r) != nil {
			break
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// convertLegacyWAL applies a legacy wal, saves the snapshot and history,
// and only then removes the legacy file, so that a crash in between reads
// it again (applying it twice ends in the same state).
func (s *Store) convertLegacyWAL(path string) error {
	recs, err := readLegacyWAL(path)
	if err != nil || recs == nil {
		return err
	}
	for _, r := range recs {
		s.apply(r)
	}
	if err := s.saveSnapshot(recs); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	s.log.Info("alert state wal converted to the record log format", "records", len(recs))
	return fileutil.SyncDir(s.dir)
}

// compact writes the snapshot, moves the wal's transitions to the history
// and starts an empty wal.
func (s *Store) compact(recs []record) error {
	if err := s.saveSnapshot(recs); err != nil {
		return err
	}
	if err := s.wal.Rewrite(nil); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// saveSnapshot appends recs to the history and writes the snapshot.
func (s *Store) saveSnapshot(recs []record) error {
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
	if err := fileutil.SaveJSON(filepath.Join(s.dir, snapshotName), snap); err != nil {
		return fmt.Errorf("state: snapshot: %w", err)
	}
	return nil
}

func (s *Store) encode(r record) ([]byte, error) {
	p, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("state: encode: %w", err)
	}
	return p, nil
}

// Append records transitions durably: one write and one fsync for all.
func (s *Store) Append(trs ...rules.Transition) error { return s.AppendNoted("", trs...) }

// AppendNoted is Append with what the transitions' actor said (an
// acknowledgement's comment), kept in their history.
func (s *Store) AppendNoted(note string, trs ...rules.Transition) error {
	recs := make([][]byte, 0, len(trs))
	for i := range trs {
		p, err := s.encode(record{Transition: &trs[i], Note: note})
		if err != nil {
			return err
		}
		recs = append(recs, p)
	}
	if err := s.wal.Append(recs...); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	for i := range trs {
		s.apply(record{Transition: &trs[i]})
	}
	return nil
}

// MarkNotified records that the notification path holds the transition
// durably (its outbox). The receipt is written without its own fsync: it
// becomes durable with the next transition's fsync or at Close. Losing it
// to a crash only hands the transition to the notification path again,
// which recognises what its outbox already holds.
func (s *Store) MarkNotified(tr rules.Transition) error {
	r := record{Notified: &receipt{tr.Alert.Fingerprint, tr.To, tr.At.UTC()}}
	p, err := s.encode(r)
	if err != nil {
		return err
	}
	if err := s.wal.Write(p); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	s.apply(r)
	return nil
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

// Close fsyncs and closes the wal; it is idempotent.
func (s *Store) Close() error { return s.wal.Close() }
