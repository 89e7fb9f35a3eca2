package decode

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the decoding stage. Every refused message and value is
// counted; the log only carries examples.
type metrics struct {
	messages     *prometheus.CounterVec
	errors       *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	decoded      *prometheus.CounterVec
	timeReplaced *prometheus.CounterVec
	unmatched    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_gateway_messages_total",
			Help: "Messages from the local broker routed to a decoder, by device family.",
		}, []string{"family"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_gateway_decode_errors_total",
			Help: "Messages refused as a whole, by device family and reason.",
		}, []string{"family", "reason"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_gateway_readings_rejected_total",
			Help: "Values dropped from otherwise decodable messages, by family, kind and reason.",
		}, []string{"family", "kind", "reason"}),
		decoded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_gateway_observations_total",
			Help: "Observations decoded and passed on, by device family.",
		}, []string{"family"}),
		timeReplaced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_gateway_device_time_replaced_total",
			Help: "Observations whose device time was too far from the arrival time and was replaced by it.",
		}, []string{"family"}),
		unmatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_gateway_messages_unmatched_total",
			Help: "Messages on topics no configured source subscribes to.",
		}),
	}
	for _, c := range []prometheus.Collector{m.messages, m.errors, m.rejected, m.decoded, m.timeReplaced, m.unmatched} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("decode: register metrics: %w", err)
		}
	}
	return m, nil
}
