package collector

import "github.com/prometheus/client_golang/prometheus"

// The reason label of the rejection counters takes the model.Reject*
// values, which the gateway's ack carries too.

type metrics struct {
	batches         *prometheus.CounterVec
	readings        prometheus.Counter
	rejected        *prometheus.CounterVec
	writes          *prometheus.CounterVec
	writeSeconds    prometheus.Histogram
	writeRetries    prometheus.Counter
	lag             *lagHistogram
	outstanding     prometheus.Gauge
	statuses        prometheus.Counter
	statusRejected  *prometheus.CounterVec
	reattributed    prometheus.Counter
	claimsIgnored   *prometheus.CounterVec
	gaps            prometheus.Counter
	gapReadings     prometheus.Counter
	acksFailed      prometheus.Counter
	inflightBlocked prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_collector_batches_total", Help: "Batches received from gateways, by result (stored, rejected, corrupt).",
		}, []string{"result"}),
		readings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_collector_readings_total", Help: "Readings written to InfluxDB.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_collector_readings_rejected_total", Help: "Readings refused, by reason (model.Reject*: unregistered_device, foreign_device, unregistered_gateway, too_old, ...); the gateway's ack carries the same counts.",
		}, []string{"reason"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_collector_writes_total", Help: "InfluxDB write requests, by result (ok, retry, bad_data, too_large).",
		}, []string{"result"}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cw_collector_write_seconds", Help: "Duration of InfluxDB write requests.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		writeRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_collector_write_retries_total", Help: "InfluxDB writes retried after a transient failure.",
		}),
		lag: newLagHistogram("cw_collector_lag_seconds", "Time from a reading's measurement to its write in InfluxDB.",
			prometheus.ExponentialBuckets(0.01, 4, 12)),
		outstanding: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cw_collector_acks_outstanding", Help: "Batches received and not yet acknowledged.",
		}),
		statuses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_collector_status_messages_total", Help: "Gateway status messages written.",
		}),
		statusRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_collector_status_rejected_total", Help: "Gateway status messages not written, by reason (corrupt, unknown_facility, unregistered_gateway, too_old, future, ...).",
		}, []string{"reason"}),
		reattributed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_collector_readings_reattributed_total", Help: "Readings stored under the room the registry lists for their device rather than the room their gateway sent (the gateway's facility file differs from the centre's).",
		}),
		claimsIgnored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_collector_claims_ignored_total", Help: "Batches whose gateway claimed an attribution the registry contradicts (region_mismatch, bad_region), stored with the registry's instead.",
		}, []string{"reason"}),
		gaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_collector_gaps_total", Help: "Gaps reported by gateways whose spool dropped readings.",
		}),
		gapReadings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_collector_gap_readings_total", Help: "Readings gateways report they dropped.",
		}),
		acksFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_collector_acks_failed_total", Help: "Acknowledgements that could not be published (the gateway resends the batch).",
		}),
		inflightBlocked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_collector_inflight_full_total", Help: "Messages that waited because max_inflight batches were pending.",
		}),
	}
	reg.MustRegister(m.batches, m.readings, m.rejected, m.writes, m.writeSeconds, m.writeRetries, m.lag,
		m.outstanding, m.statuses, m.statusRejected, m.reattributed, m.claimsIgnored, m.gaps, m.gapReadings, m.acksFailed, m.inflightBlocked)
	return m
}
