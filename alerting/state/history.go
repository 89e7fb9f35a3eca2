package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/recordlog"
)

// Entry is one line of an alert's history: a transition, or the receipt
// that the notification path accepted one (Notified; then Transition holds
// only the fingerprint, the state it went to and its time).
type Entry struct {
	Transition rules.Transition
	Note       string // what the actor said (an acknowledgement's comment)
	Notified   bool
}

// History reads the history of one alert from the state directory dir:
// history.jsonl (everything before the last start) and the wal (since),
// oldest first, at most the last limit entries (truncated reports whether
// older ones were left out). It reads the files only, so it may run beside
// the Store's goroutine: the wal is append-only while the service runs,
// and a record being written is a torn tail, which is left out.
func History(dir, fingerprint string, limit int) (entries []Entry, truncated bool, err error) {
	keep := func(r record) {
		var e Entry
		switch {
		case r.Transition != nil && r.Transition.Alert.Fingerprint == fingerprint:
			e.Transition, e.Note = *r.Transition, r.Note
		case r.Notified != nil && r.Notified.Fingerprint == fingerprint:
			e.Notified = true
			e.Transition.Alert.Fingerprint = fingerprint
			e.Transition.To, e.Transition.At = r.Notified.To, r.Notified.At
		default:
			return
		}
		entries = append(entries, e)
		if limit > 0 && len(entries) > 2*limit {
			entries = append(entries[:0], entries[len(entries)-limit:]...)
			truncated = true
		}
	}
	if err := scanHistory(filepath.Join(dir, historyName), []byte(fingerprint), keep); err != nil {
		return nil, false, err
	}
	wal, err := os.ReadFile(filepath.Join(dir, walName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("state: %w", err)
	}
	// Damage is the Store's to quarantine when it opens; here it is
	// skipped, and the records around it still count.
	var ce *recordlog.CorruptError
	if err := recordlog.Scan(wal, func(b []byte) error {
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		keep(r)
		return nil
	}); err != nil && !errors.As(err, &ce) {
		return nil, false, fmt.Errorf("state: %w", err)
	}
	if limit > 0 && len(entries) > limit {
		entries, truncated = entries[len(entries)-limit:], true
	}
	return entries, truncated, nil
}

// scanHistory decodes the lines of history.jsonl that mention the
// fingerprint.
func scanHistory(path string, fp []byte, keep func(record)) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), recordlog.DefaultMaxRecord+1024)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, fp) {
			continue
		}
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			continue // a line cut by a crash while appending: not this alert's history
		}
		keep(r)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("state: %s: %w", path, err)
	}
	return nil
}
