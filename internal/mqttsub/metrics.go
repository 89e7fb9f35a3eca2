package mqttsub

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of one Subscriber, named after Options.MetricPrefix.
type metrics struct {
	connects        prometheus.Counter
	connectFailures prometheus.Counter
	connected       prometheus.Gauge
	received        prometheus.Counter
	dropped         *prometheus.CounterVec
	staleAcks       prometheus.Counter
	refused         prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, prefix string) (*metrics, error) {
	m := &metrics{
		connects: prometheus.NewCounter(prometheus.CounterOpts{Name: prefix + "_connects_total",
			Help: "Connections to the broker accepted (CONNACK), reconnections included."}),
		connectFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: prefix + "_connect_failures_total",
			Help: "Connection attempts that failed (dial, TLS or refused by the broker); retried with back-off."}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: prefix + "_connected",
			Help: "1 while connected to the broker."}),
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: prefix + "_messages_received_total",
			Help: "PUBLISH packets received and handed to the handler (redeliveries included)."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: prefix + "_messages_dropped_total",
			Help: "Messages acknowledged without being handed on, by reason (too_large: above the packet limit)."}, []string{"reason"}),
		staleAcks: prometheus.NewCounter(prometheus.CounterOpts{Name: prefix + "_acks_stale_total",
			Help: "Acknowledgements not sent because their connection had ended; the broker delivers those messages again."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: prefix + "_subscriptions_refused_total",
			Help: "Subscriptions the broker refused (SUBACK 0x80), usually its ACL."}),
	}
	m.dropped.WithLabelValues("too_large")
	for _, c := range []prometheus.Collector{m.connects, m.connectFailures, m.connected, m.received, m.dropped, m.staleAcks, m.refused} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("mqttsub: register metrics: %w", err)
		}
	}
	return m, nil
}
