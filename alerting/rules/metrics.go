package rules

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the engine's Prometheus metrics. Create them once per
// registerer and share them between engine shards (Options.Metrics).
type Metrics struct {
	live, replay                                 prometheus.Counter
	unknownFacility, future, deviceLimit, tooOld prometheus.Counter
	outOfRange, unknownAlert                     prometheus.Counter
	transitions                                  [len(stateNames)]prometheus.Counter
	notified, announced, suppressed              prometheus.Counter
	facilities                                   prometheus.Gauge
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
		Help: "Firing and resolved transitions by outcome: notify, announced (fired on replay, still firing when live), suppressed (replayed data).",
	}, []string{"outcome"})
	unknownAlert := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cw_alerting_restore_unknown_total",
		Help: "Restored alerts whose rule, room or device no longer exists; dropped.",
	})
	fac := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cw_alerting_facilities",
		Help: "Facilities the engine evaluates.",
	})
	if reg != nil {
		reg.MustRegister(readings, rejected, trans, notif, unknownAlert, fac)
	}
	m := &Metrics{
		live: readings.WithLabelValues("live"), replay: readings.WithLabelValues("replay"),
		unknownFacility: rejected.WithLabelValues("unknown_facility"),
		future:          rejected.WithLabelValues("future"),
		deviceLimit:     rejected.WithLabelValues("device_limit"),
		tooOld:          rejected.WithLabelValues("older_than_window"),
		outOfRange:      rejected.WithLabelValues("out_of_range"),
		unknownAlert:    unknownAlert,
		announced:       notif.WithLabelValues("announced"),
		suppressed:      notif.WithLabelValues("suppressed"),
		facilities:      fac,
	}
	for i, n := range stateNames {
		m.transitions[i] = trans.WithLabelValues(n)
	}
	m.notified = notif.WithLabelValues("notify")
	return m
}
