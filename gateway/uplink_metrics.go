package gateway

import "github.com/prometheus/client_golang/prometheus"

// uplinkMetrics are the uplink's Prometheus metrics. The lane label is
// "live", "backlog" or "urgent" (model.Lane).
type uplinkMetrics struct {
	batches     *prometheus.CounterVec
	readings    *prometheus.CounterVec
	bytes       prometheus.Counter
	resends     *prometheus.CounterVec
	acks        *prometheus.CounterVec
	ignored     *prometheus.CounterVec
	rejected    prometheus.Counter
	unreadable  prometheus.Counter
	spoolErrors *prometheus.CounterVec
	splits      prometheus.Counter
	inflight    *prometheus.GaugeVec
	backlog     prometheus.Gauge
	ackSeconds  prometheus.Histogram
}

func newUplinkMetrics(reg prometheus.Registerer) *uplinkMetrics {
	m := &uplinkMetrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_gateway_uplink_batches_total",
			Help: "Batches sent to the centre, first sends only, by lane (live, backlog, urgent)."}, []string{"lane"}),
		readings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_gateway_uplink_readings_total",
			Help: "Readings sent to the centre, first sends only, by lane (live, backlog, urgent)."}, []string{"lane"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_gateway_uplink_bytes_total",
			Help: "Batch payload bytes sent, resends included."}),
		resends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_gateway_uplink_resends_total",
			Help: "Batches sent again, by lane and why (timeout: no acknowledgement in time; reconnect: the link came back)."},
			[]string{"lane", "reason"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_gateway_uplink_acks_total",
			Help: "Acknowledgements from the centre, by status (stored, rejected, unknown)."}, []string{"status"}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_gateway_uplink_acks_ignored_total",
			Help: "Acknowledgements that matched no batch in flight: duplicate (a resent batch acknowledged twice) or unknown range; or dropped because the queue was full (queue_full)."},
			[]string{"reason"}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_gateway_uplink_readings_rejected_total",
			Help: "Readings the centre refused (counted there by reason)."}),
		unreadable: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_gateway_uplink_unreadable_entries_total",
			Help: "Spool entries that could not be decoded and were skipped."}),
		spoolErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_gateway_uplink_spool_errors_total",
			Help: "Spool calls of the uplink that failed, by operation (read, release)."}, []string{"op"}),
		splits: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_gateway_uplink_backlog_splits_total",
			Help: "Times the live lane jumped to the spool head and left a backlog behind for the backlog lane."}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cw_gateway_uplink_inflight_batches",
			Help: "Batches sent and not yet acknowledged, by lane."}, []string{"lane"}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{Name: "cw_gateway_uplink_backlog_readings",
			Help: "Spool indexes (readings and gaps) the backlog lane has still to send: from its cursor to where the live lane started."}),
		ackSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cw_gateway_uplink_ack_seconds",
			Help: "Time from the last send of a batch to its acknowledgement.", Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12)}),
	}
	reg.MustRegister(m.batches, m.readings, m.bytes, m.resends, m.acks, m.ignored, m.rejected, m.unreadable,
		m.spoolErrors, m.splits, m.inflight, m.backlog, m.ackSeconds)
	// Every label value exists from the start, so a dashboard's rate() sees
	// the first increment.
	for _, l := range lanes {
		m.batches.WithLabelValues(l.String())
		m.readings.WithLabelValues(l.String())
		m.inflight.WithLabelValues(l.String())
		for _, r := range []string{resendTimeout, resendReconnect} {
			m.resends.WithLabelValues(l.String(), r)
		}
	}
	return m
}
