package spool

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the spool's Prometheus series (prefix cw_gateway_spool_).
type metrics struct {
	appended       prometheus.Counter
	appendErrors   *prometheus.CounterVec
	commits        prometheus.Counter
	immediate      prometheus.Counter
	fsync          prometheus.Histogram
	bytes          prometheus.Gauge
	depth          prometheus.Gauge
	dropped        *prometheus.CounterVec
	repairs        prometheus.Counter
	truncated      prometheus.Counter
	released       prometheus.Counter
	checkpoints    prometheus.Counter
	checkpointBad  prometheus.Counter
	segmentsGauge  prometheus.Gauge
	rewrites       prometheus.Counter
	removedSegment prometheus.Counter
}

// Drop classes, the label values of dropped_records_total.
const (
	classPeriodic = "periodic"
	classState    = "state"
)

// Append rejection reasons, the label values of append_errors_total.
const (
	reasonClosed   = "closed"
	reasonTooLarge = "too_large"
	reasonFull     = "full"
	reasonIO       = "io"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "cw", "gateway_spool"
	m := &metrics{
		appended: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "appended_records_total", Help: "Records made durable in the spool."}),
		appendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "append_errors_total", Help: "Records whose append failed, by reason."}, []string{"reason"}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "commits_total", Help: "Group commits (write and fsync of a batch of appends)."}),
		immediate: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "immediate_commits_total", Help: "Group commits made at once for an urgent append (a safety-relevant state change) instead of after the commit interval."}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "fsync_duration_seconds", Help: "Duration of fsync of a segment file.",
			// SD cards stall for seconds during garbage collection.
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "bytes", Help: "Bytes of segment files on disk."}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "depth_records", Help: "Durable records not yet released by the centre."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "dropped_records_total", Help: "Unreleased records removed by the drop policy, by class."}, []string{"class"}),
		repairs: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "torn_tail_repairs_total", Help: "Times Open truncated a torn or corrupt tail."}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "truncated_bytes_total", Help: "Bytes cut off by tail repairs."}),
		released: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "released_records_total", Help: "Records released after the centre acknowledged them."}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "checkpoint_writes_total", Help: "Release-point checkpoint files written."}),
		checkpointBad: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "checkpoint_corrupt_total", Help: "Unreadable checkpoints ignored at Open (records are sent again)."}),
		segmentsGauge: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "segments", Help: "Segment files on disk."}),
		rewrites: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "segment_rewrites_total", Help: "Segments rewritten by the drop policy to keep only state records."}),
		removedSegment: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "segments_removed_total", Help: "Segment files deleted (released or dropped)."}),
	}
	for _, c := range []prometheus.Collector{m.appended, m.appendErrors, m.commits, m.immediate, m.fsync, m.bytes, m.depth,
		m.dropped, m.repairs, m.truncated, m.released, m.checkpoints, m.checkpointBad, m.segmentsGauge,
		m.rewrites, m.removedSegment} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("spool: metrics already registered (one spool per registerer): %w", err)
			}
			return nil, fmt.Errorf("spool: register metrics: %w", err)
		}
	}
	// Make the label values visible before the first event.
	m.dropped.WithLabelValues(classPeriodic)
	m.dropped.WithLabelValues(classState)
	for _, r := range []string{reasonClosed, reasonTooLarge, reasonFull, reasonIO} {
		m.appendErrors.WithLabelValues(r)
	}
	return m, nil
}
