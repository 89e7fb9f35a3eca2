package simulator

import "github.com/prometheus/client_golang/prometheus"

// metrics are the simulator's Prometheus metrics.
type metrics struct {
	published      *prometheus.CounterVec
	failed         *prometheus.CounterVec
	incidents      *prometheus.CounterVec
	reconnects     prometheus.Counter
	connectionLost prometheus.Counter
	ticks          prometheus.Counter
	simTime        prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_simulator_messages_published_total",
			Help: "Messages the local broker acknowledged (PUBACK for QoS 1), by device family.",
		}, []string{"family"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_simulator_messages_failed_total",
			Help: "Messages not acknowledged, by device family and reason (timeout, error).",
		}, []string{"family", "reason"}),
		incidents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_simulator_incidents_started_total",
			Help: "Scripted incidents that began, by type.",
		}, []string{"type"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_simulator_reconnects_total",
			Help: "Attempts to reconnect to a local broker after a lost connection.",
		}),
		connectionLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_simulator_connections_lost_total",
			Help: "Connections to a local broker that were lost.",
		}),
		ticks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_simulator_ticks_total",
			Help: "Simulation steps run.",
		}),
		simTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cw_simulator_simulated_time_seconds",
			Help: "Simulated time of the last step, as a Unix timestamp.",
		}),
	}
	for _, c := range []prometheus.Collector{m.published, m.failed, m.incidents, m.reconnects, m.connectionLost, m.ticks, m.simTime} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
