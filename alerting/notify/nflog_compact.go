package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/recordlog"
)

// The notification log is compacted so that it does not grow for ever and
// is not read whole, years of it, at every start. What it is read for:
//
//   - dedup: which notices finished (a transition handed over again, a
//     notice restored from the outbox);
//   - which channels of a notice in flight are done (a critical notice goes
//     out on every channel);
//   - whether a recipient was told of an episode (before its resolution is
//     sent);
//   - which numbers were sent an episode by SMS (an SMS reply acknowledges
//     only from those);
//   - the per-number SMS budgets: the sends of the last 24 h and the
//     providers' refusals of the last budget.exhausted_for.
//
// So a record is kept when any of its entries is younger than the
// retention (logRetention, or budget.exhausted_for when longer), or
// concerns an episode whose escalation is still open, or a notice still
// pending in the outbox. Every other record is dropped. The retention is
// the escalator's memory of closed episodes (closedRetention): a
// transition of a closed episode handed over again within it is recognised
// by the escalator; after it, by nothing, so the log need not remember
// either. Records are kept or dropped whole (one delivery covers every
// alert of its message, and counts once in a budget).
//
// The log is rewritten atomically (recordlog's Rewrite: a temporary file,
// fsync, rename, fsync of the directory): a crash during compaction leaves
// the old log or the new one, never less. Appends wait while it runs.

// logRetention is how long the notification log keeps records no open
// escalation or pending notice needs.
const logRetention = closedRetention

// logCompactMin is the size below which the log is not compacted while the
// service runs (at start it is, whenever a record is due to go).
const logCompactMin = 1 << 20

// compactStats are what a compaction did.
type compactStats struct{ kept, dropped int }

// compact rewrites the log with the records keep wants and the records
// with an entry at or after horizon, and rebuilds the indexes from them.
// It rewrites nothing when no record is due to go.
func (n *nflog) compact(horizon time.Time, keep func(LogEntry) bool) (compactStats, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	b, err := os.ReadFile(n.l.Path())
	if err != nil {
		return compactStats{}, fmt.Errorf("nflog: compact: %w", err)
	}
	var st compactStats
	var recs [][]byte
	var entries [][]LogEntry
	err = recordlog.Scan(b, func(rec []byte) error {
		var es []LogEntry
		if err := json.Unmarshal(rec, &es); err != nil {
			return err
		}
		for _, e := range es {
			if !e.At.Before(horizon) || keep(e) {
				recs, entries = append(recs, rec), append(entries, es)
				st.kept++
				return nil
			}
		}
		st.dropped++
		return nil
	})
	var ce *recordlog.CorruptError
	if errors.As(err, &ce) {
		// Open repaired the log; damage now is a disk going bad. Keep the
		// log as it is rather than rewrite it without what cannot be read.
		return compactStats{}, fmt.Errorf("nflog: compact: %w", err)
	}
	if err != nil || st.dropped == 0 {
		return compactStats{kept: st.kept}, err
	}
	if err := n.l.Rewrite(recs); err != nil {
		return compactStats{}, fmt.Errorf("nflog: compact: %w", err)
	}
	n.finished, n.sentOn, n.failedOn = map[string]bool{}, map[string]map[Channel]bool{}, map[string]map[Channel]bool{}
	n.announced, n.smsTo = map[string]bool{}, map[string]map[string]bool{}
	for _, es := range entries {
		n.note(es)
	}
	if n.compacted != nil {
		n.compacted.Add(float64(st.dropped))
	}
	return st, nil
}

// size is the log's length in bytes.
func (n *nflog) size() int64 { return n.l.Size() }

func newCompactedCounter(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cw_alerting_notify_log_compacted_records_total",
		Help: "Records of the notification log dropped by compaction: older than the retention, of no open escalation and no pending notice.",
	})
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector.(prometheus.Counter)
		}
	}
	return c
}

// compactLog compacts the notification log by the rule above, at now.
func (d *Dispatcher) compactLog(now time.Time) {
	retention := max(logRetention, budgetDay, d.cfg.Budget.ExhaustedFor)
	d.mu.Lock()
	open := map[string]bool{}
	for _, s := range d.esc.all() {
		open[s.Alert.episode()] = true
	}
	pending := make(map[string]bool, len(d.live))
	for key := range d.live {
		pending[key] = true
	}
	d.mu.Unlock()
	keep := func(e LogEntry) bool {
		ep := e.Episode
		if ep == "" {
			ep, _, _ = parseKey(e.Key)
		}
		return open[ep] || pending[e.Key]
	}
	st, err := d.log.compact(now.Add(-retention), keep)
	d.logCompactAt = max(2*d.log.size(), logCompactMin)
	switch {
	case err != nil:
		d.metrics.stateErrors.Inc()
		d.logger.Error("notification log compaction failed; the log stays as it is", "err", err)
	case st.dropped > 0:
		d.logger.Info("notification log compacted", "kept", st.kept, "dropped", st.dropped, "retention", retention)
	}
}

// maybeCompactLog compacts the log when it has doubled since the last
// compaction (and is at least logCompactMin).
func (d *Dispatcher) maybeCompactLog() {
	if d.log.size() >= d.logCompactAt {
		d.compactLog(d.clock.Now())
	}
}
