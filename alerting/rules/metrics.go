package rules

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/model"
)

// Metrics are the engine's Prometheus metrics. Create them once per
// registerer and share them between engine shards (Options.Metrics).
type Metrics struct {
	live, replay                                 prometheus.Counter
	unknownFacility, future, deviceLimit, tooOld prometheus.Counter
	bucketFull                                   prometheus.Counter
	outOfRange, unknownAlert                     prometheus.Counter
	transitions                                  [len(stateNames)]prometheus.Counter
	notified, announced, suppressed, held        prometheus.Counter
	facilities                                   prometheus.Gauge
	lanes                                        [3][2]prometheus.Counter // lane × draining
	centreLost, massDrops                        prometheus.Counter
	seriesRestored                               *prometheus.CounterVec
	duplicates, unchecked                        prometheus.Counter
	retired                                      *prometheus.CounterVec
}

// batchLane counts a batch by its lane and draining flag.
func (m *Metrics) batchLane(l model.Lane, draining bool) {
	d := 0
	if draining {
		d = 1
	}
	if int(l) < len(m.lanes) {
		m.lanes[l][d].Inc()
	}
}

// NewMetrics registers the engine's metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	readings := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cw_alerting_readings_total",
		Help: "Readings evaluated, by class: live, or replay (older than the allowed lateness; evaluated without notifying).",
	}, []string{"class"})
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cw_alerting_readings_rejected_total",
		Help: "Readings not evaluated, by reason.",
	}, []string{"reason"})
	trans := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cw_alerting_transitions_total",
		Help: "Alert state transitions, by target state.",
	}, []string{"to"})
	notif := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cw_alerting_rule_notifications_total",
		Help: "Firing and resolved transitions by outcome: notify, announced (fired on replay, still firing when live), suppressed (replayed data), held (live data judged while the facility's backlog was still arriving; announced once it is in).",
	}, []string{"outcome"})
	unknownAlert := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cw_alerting_restore_unknown_total",
		Help: "Restored alerts whose rule, room or device no longer exists; dropped.",
	})
	fac := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cw_alerting_facilities",
		Help: "Facilities the engine evaluates.",
	})
	lanes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cw_alerting_batches_total",
		Help: "Batches evaluated, by the gateway's uplink lane (live, backlog, urgent) and whether the gateway was still draining a backlog.",
	}, []string{"lane", "draining"})
	centreLost := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cw_alerting_centre_lost_total",
		Help: "Times the service lost its own link to the central broker (gateways' losses meanwhile are not announced as theirs).",
	})
	massDrops := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cw_alerting_mass_drops_total",
		Help: "Platform incidents declared because many gateways were lost at once (the mass_drop rule).",
	})
	restored := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cw_alerting_series_restored_total",
		Help: "Thresholds' last values and rolling windows read from the snapshot at start, by outcome: applied, or changed (the rule's window or buckets changed: dropped).",
	}, []string{"outcome"})
	duplicates := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cw_alerting_window_duplicates_total",
		Help: "Readings a rolling mean already held (same device, kind and measurement time: a batch sent again, a message handed over again), not counted twice; per rolling mean.",
	})
	unchecked := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cw_alerting_window_unchecked_total",
		Help: "Readings added to a rolling mean's bucket that could not tell whether it held them already: the bucket remembers 1,024 reading times, and the device reports faster; per rolling mean.",
	})
	retired := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cw_alerting_alerts_retired_total",
		Help: "Alerts ended because the registry no longer lists their device, gateway, room or facility, by outcome: resolved (was firing or acknowledged), inactive (was pending), dropped (was inactive).",
	}, []string{"outcome"})
	if reg != nil {
		reg.MustRegister(readings, rejected, trans, notif, unknownAlert, fac, lanes, centreLost, massDrops, restored, duplicates, unchecked, retired)
	}
	m := &Metrics{
		live: readings.WithLabelValues("live"), replay: readings.WithLabelValues("replay"),
		unknownFacility: rejected.WithLabelValues("unknown_facility"),
		future:          rejected.WithLabelValues("future"),
		deviceLimit:     rejected.WithLabelValues("device_limit"),
		tooOld:          rejected.WithLabelValues("older_than_window"),
		bucketFull:      rejected.WithLabelValues("bucket_full"),
		outOfRange:      rejected.WithLabelValues("out_of_range"),
		unknownAlert:    unknownAlert,
		announced:       notif.WithLabelValues("announced"),
		suppressed:      notif.WithLabelValues("suppressed"),
		held:            notif.WithLabelValues("held"),
		facilities:      fac,
		centreLost:      centreLost,
		massDrops:       massDrops,
		seriesRestored:  restored,
		duplicates:      duplicates,
		unchecked:       unchecked,
		retired:         retired,
	}
	for l := range m.lanes {
		for d, name := range [...]string{"false", "true"} {
			m.lanes[l][d] = lanes.WithLabelValues(model.Lane(l).String(), name)
		}
	}
	for i, n := range stateNames {
		m.transitions[i] = trans.WithLabelValues(n)
	}
	m.notified = notif.WithLabelValues("notify")
	return m
}
