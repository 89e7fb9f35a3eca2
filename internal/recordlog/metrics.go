package recordlog

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	appends        prometheus.Counter
	fsyncs         prometheus.Counter
	fsyncSeconds   prometheus.Observer
	corruptRegions prometheus.Counter
	corruptBytes   prometheus.Counter
	tornTails      prometheus.Counter
	tornBytes      prometheus.Counter
	writeErrors    prometheus.Counter
}

// newMetrics registers the log's collectors, labelled log=name, with reg
// (nil: unregistered). Reopening a log on the same registry reuses the
// collectors already there.
func newMetrics(reg prometheus.Registerer, name string) *metrics {
	labels := prometheus.Labels{"log": name}
	counter := func(n, help string) prometheus.Counter {
		return register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: n, Help: help, ConstLabels: labels})).(prometheus.Counter)
	}
	return &metrics{
		appends: counter("cw_recordlog_appends_total", "Records appended to a record log."),
		fsyncs:  counter("cw_recordlog_fsyncs_total", "Fsyncs of a record log (one per Append, Sync or Close with unsynced records)."),
		fsyncSeconds: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cw_recordlog_fsync_seconds", Help: "Duration of a record log's fsyncs.", ConstLabels: labels,
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		})).(prometheus.Histogram),
		corruptRegions: counter("cw_recordlog_corrupt_regions_total", "Damaged regions in the middle of a record log found at open: quarantined, the records after them kept."),
		corruptBytes:   counter("cw_recordlog_corrupt_bytes_total", "Bytes of the damaged regions counted in cw_recordlog_corrupt_regions_total."),
		tornTails:      counter("cw_recordlog_torn_tails_total", "Torn tails (a crash in the middle of an append) cut off at open; their bytes are quarantined."),
		tornBytes:      counter("cw_recordlog_torn_bytes_total", "Bytes of the torn tails counted in cw_recordlog_torn_tails_total."),
		writeErrors:    counter("cw_recordlog_write_errors_total", "Appends that failed to write or fsync; the log is cut back to its last whole record."),
	}
}

func register(reg prometheus.Registerer, c prometheus.Collector) prometheus.Collector {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector
		}
		// A name clash with a different help text is a programming error
		// that tests catch; the log still works with its own collector.
	}
	return c
}
