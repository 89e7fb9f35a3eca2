package alerting

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/fileutil"
)

// SeriesFile is the file in state_dir holding the rules' memory (each
// threshold's last value and rolling window), written atomically.
const SeriesFile = "series.json"

// seriesFile saves the engine's SeriesSnapshot: periodically from a
// goroutine of its own (the engine's goroutine only copies), and at
// shutdown from the engine's goroutine. A snapshot older than the one on
// disk is never written over it.
type seriesFile struct {
	path   string
	log    *slog.Logger
	offers chan rules.SeriesSnapshot // the latest periodic snapshot; a newer one replaces it
	mu     sync.Mutex
	last   time.Time // Taken of the snapshot on disk
	saves  *prometheus.CounterVec
	dur    prometheus.Histogram
	saved  func(journal uint64) // told which journals a snapshot on disk covers
}

func newSeriesFile(dir string, log *slog.Logger, reg prometheus.Registerer) *seriesFile {
	f := &seriesFile{
		path: filepath.Join(dir, SeriesFile), log: log, offers: make(chan rules.SeriesSnapshot, 1),
		saves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_series_snapshots_total",
			Help: "Snapshots of the rules' memory (last values, rolling windows) by outcome: saved, failed (the previous one stays), load_failed (the start went on without), load_version (an unknown layout, ignored).",
		}, []string{"outcome"}),
		dur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cw_alerting_series_snapshot_seconds", Help: "Time to encode and write a snapshot of the rules' memory.",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 10),
		}),
	}
	reg.MustRegister(f.saves, f.dur)
	return f
}

// load reads the snapshot. A missing file is an empty memory; a broken one
// is logged and counted, and the start goes on: the means refill from live
// data, as they did before snapshots existed.
func (f *seriesFile) load() rules.SeriesSnapshot {
	var s rules.SeriesSnapshot
	if err := fileutil.LoadJSON(f.path, &s); err != nil {
		f.saves.WithLabelValues("load_failed").Inc()
		f.log.Error("rules' memory not restored; rolling means start empty", "file", f.path, "err", err)
		return rules.SeriesSnapshot{}
	}
	if s.Version < 0 || s.Version > rules.SeriesVersion { // older versions are converted by the engine
		f.saves.WithLabelValues("load_version").Inc()
		f.log.Error("rules' memory has an unknown layout; rolling means start empty", "file", f.path, "version", s.Version)
		return rules.SeriesSnapshot{}
	}
	return s
}

// offer hands a periodic snapshot to run, replacing one not yet written.
func (f *seriesFile) offer(s rules.SeriesSnapshot) {
	select {
	case <-f.offers:
	default:
	}
	f.offers <- s
}

func (f *seriesFile) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case s := <-f.offers:
			f.save(s)
		}
	}
}

// save writes s unless a newer snapshot is on disk already.
func (f *seriesFile) save(s rules.SeriesSnapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !s.Taken.After(f.last) {
		return
	}
	start := time.Now() // measures the disk, not event logic
	b, err := json.Marshal(s)
	if err == nil {
		err = fileutil.WriteFileAtomic(f.path, b, 0o600)
	}
	if err != nil {
		f.saves.WithLabelValues("failed").Inc()
		f.log.Error("saving the rules' memory failed; the previous snapshot stays", "file", f.path, "err", err)
		return
	}
	f.dur.Observe(time.Since(start).Seconds())
	f.saves.WithLabelValues("saved").Inc()
	f.last = s.Taken
	if f.saved != nil && s.Journal > 0 {
		f.saved(s.Journal)
	}
}
