package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/fileutil"
	"github.com/cradlewatch/cradlewatch/internal/recordlog"
)

// outboxCompactBytes: the outbox is compacted (snapshot written, log
// emptied) when it grows past this, and at every start.
const outboxCompactBytes = 1 << 20

// Notice is one notification due to one recipient about one alert: what
// the outbox keeps until it is delivered, silenced or given up.
type Notice struct {
	Key       string    `json:"key"`       // episode | kind | step | repeat | recipient
	Recipient string    `json:"recipient"` // recipient id; the contact is looked up when sending
	Target    Target    `json:"target,omitempty"`
	Kind      Kind      `json:"kind"`
	Step      string    `json:"step"`
	Repeat    int       `json:"repeat,omitempty"`
	Alert     Alert     `json:"alert"`
	Queued    time.Time `json:"queued"`
	Due       time.Time `json:"due"` // when it may leave: queued plus its grouping wait
}

// groupKey: notices with the same key leave as one message. Severity is
// part of it: a critical alert does not wait in a warning's group.
func (n *Notice) groupKey() string {
	return n.Recipient + "|" + n.Alert.Facility + "|" + string(n.Kind) + "|" + n.Alert.Severity.String()
}

// outboxRecord is one change of the notification state, written with one
// fsync: escalations opened or changed, closed, notices added or
// cancelled. Seq orders records against the snapshot.
type outboxRecord struct {
	Seq    uint64          `json:"seq"`
	Open   []*escalation   `json:"open,omitempty"`
	Closed []closedEpisode `json:"closed,omitempty"`
	Add    []*Notice       `json:"add,omitempty"`
	Cancel []string        `json:"cancel,omitempty"`
}

func (r *outboxRecord) empty() bool {
	return len(r.Open) == 0 && len(r.Closed) == 0 && len(r.Add) == 0 && len(r.Cancel) == 0
}

// outboxSnapshot is escalations.json: the state up to record Seq.
type outboxSnapshot struct {
	Seq     uint64               `json:"seq"`
	Open    []*escalation        `json:"open"`
	Pending []*Notice            `json:"pending"`
	Closed  map[string]time.Time `json:"closed,omitempty"` // episodes over, recently
}

// outbox is the durable half of the notification state: a record log
// (outbox.log) of changes and a snapshot (escalations.json).
type outbox struct {
	dir     string
	log     *recordlog.Log
	seq     uint64
	pending map[string]*Notice // by key
}

// loaded is what openOutbox read: the open escalations (the later state of
// each winning) and the pending notices.
type loaded struct {
	open    map[string]*escalation
	pending map[string]*Notice
	closed  map[string]time.Time
	legacy  bool // escalations.json in the format before the outbox
}

// openOutbox reads the snapshot and the log. A legacy escalations.json (a
// JSON array of escalations) is read as the open escalations.
func openOutbox(dir string, logger *slog.Logger, reg prometheus.Registerer) (*outbox, *loaded, error) {
	ld := &loaded{open: map[string]*escalation{}, pending: map[string]*Notice{}, closed: map[string]time.Time{}}
	o := &outbox{dir: dir, pending: ld.pending}
	b, err := os.ReadFile(filepath.Join(dir, EscalationFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, fmt.Errorf("notify: %w", err)
	case len(b) > 0 && b[0] == '[':
		var legacy []*escalation
		if err := json.Unmarshal(b, &legacy); err != nil {
			return nil, nil, fmt.Errorf("notify: %s: %w", EscalationFile, err)
		}
		for _, s := range legacy {
			ld.open[s.Alert.Fingerprint] = s
		}
		ld.legacy = true
	default:
		var snap outboxSnapshot
		if err := json.Unmarshal(b, &snap); err != nil {
			// Written by rename: whole or absent. A broken one is not
			// something to guess around.
			return nil, nil, fmt.Errorf("notify: %s: %w", EscalationFile, err)
		}
		o.seq = snap.Seq
		for _, s := range snap.Open {
			ld.open[s.Alert.Fingerprint] = s
		}
		for _, n := range snap.Pending {
			ld.pending[n.Key] = n
		}
		for ep, at := range snap.Closed {
			ld.closed[ep] = at
		}
	}
	snapSeq := o.seq
	o.log, err = recordlog.Open(recordlog.Options{Path: filepath.Join(dir, OutboxFile), Name: "notify_outbox", Logger: logger, Registerer: reg},
		func(b []byte) error {
			var r outboxRecord
			if err := json.Unmarshal(b, &r); err != nil {
				return err
			}
			if r.Seq <= snapSeq {
				return nil // already in the snapshot (a crash between snapshot and compaction)
			}
			o.seq = r.Seq
			for _, c := range r.Closed {
				if s := ld.open[c.Fingerprint]; s != nil && s.Alert.episode() == c.Episode {
					delete(ld.open, c.Fingerprint)
				}
				ld.closed[c.Episode] = c.At
			}
			for _, s := range r.Open {
				ld.open[s.Alert.Fingerprint] = s
			}
			for _, n := range r.Add {
				ld.pending[n.Key] = n
			}
			for _, k := range r.Cancel {
				delete(ld.pending, k)
			}
			return nil
		})
	if err != nil {
		return nil, nil, fmt.Errorf("notify: %w", err)
	}
	return o, ld, nil
}

// write appends r durably (one fsync) and applies it to the pending set.
func (o *outbox) write(r *outboxRecord) error {
	if r.empty() {
		return nil
	}
	o.seq++
	r.Seq = o.seq
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("notify: outbox: encode: %w", err)
	}
	if err := o.log.Append(b); err != nil {
		o.seq--
		return fmt.Errorf("notify: outbox: %w", err)
	}
	for _, n := range r.Add {
		o.pending[n.Key] = n
	}
	for _, k := range r.Cancel {
		delete(o.pending, k)
	}
	return nil
}

// done forgets a notice that reached a final outcome (recorded in the
// notification log, which is what a restart consults).
func (o *outbox) done(key string) { delete(o.pending, key) }

// compact writes the snapshot of open and the pending notices, then
// empties the log. A crash in between leaves records the snapshot already
// holds, which their sequence numbers tell apart.
func (o *outbox) compact(open []*escalation, closed map[string]time.Time) error {
	snap := outboxSnapshot{Seq: o.seq, Open: open, Pending: make([]*Notice, 0, len(o.pending)), Closed: closed}
	for _, n := range o.pending {
		snap.Pending = append(snap.Pending, n)
	}
	sort.Slice(snap.Pending, func(i, j int) bool { return snap.Pending[i].Key < snap.Pending[j].Key })
	if err := fileutil.SaveJSON(filepath.Join(o.dir, EscalationFile), snap); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if err := o.log.Rewrite(nil); err != nil {
		return fmt.Errorf("notify: outbox: %w", err)
	}
	return nil
}

func (o *outbox) needsCompaction() bool { return o.log.Size() > outboxCompactBytes }

func (o *outbox) close() error { return o.log.Close() }
