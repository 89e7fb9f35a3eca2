package alerting

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	messages         *prometheus.CounterVec
	readingsRejected *prometheus.CounterVec
	queueFull        prometheus.Counter
	notifyDropped    prometheus.Counter
	notifyFailed     prometheus.Counter
	latency          prometheus.Histogram
	registryChanges  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_messages_total", Help: "Messages from gateways, by outcome (batch, status, status_retained: a retained online status handed out on subscribing, not taken as the gateway's presence; rejected, bad_topic, other_shard, unknown_facility, unregistered_gateway, region_mismatch: counted and evaluated under the registry's region).",
		}, []string{"outcome"}),
		readingsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_unregistered_readings_total", Help: "Readings not evaluated because the registry does not list their device for the facility, by reason (unregistered_device, foreign_device).",
		}, []string{"reason"}),
		queueFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_alerting_input_queue_full_total", Help: "Messages that waited because the engine was behind.",
		}),
		notifyDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_alerting_notify_queue_full_total", Help: "Transitions not queued for notification (kept as unsent in the state store, sent after a restart).",
		}),
		notifyFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_alerting_notify_failures_total", Help: "Transitions the notification path refused (kept as unsent in the state store).",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cw_alerting_notify_latency_seconds", Help: "Time from a message's arrival to its transition being queued for the notifier.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 3, 12),
		}),
	}
	m.registryChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cw_alerting_registry_changes_total", Help: "Registry records applied to the rule engine, by outcome: added, updated, removed, failed (the engine keeps what it had; logged, tried again at the next change).",
	}, []string{"outcome"})
	reg.MustRegister(m.registryChanges, m.messages, m.readingsRejected, m.queueFull, m.notifyDropped, m.notifyFailed, m.latency)
	return m
}
