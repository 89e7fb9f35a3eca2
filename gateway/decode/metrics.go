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

// newMetrics registers the stage's metrics; evictions reports the caches'
// evictions by cache name (see cacheEvictions).
func newMetrics(reg prometheus.Registerer, evictions map[string]func() float64) (*metrics, error) {
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
	cs := []prometheus.Collector{m.messages, m.errors, m.rejected, m.decoded, m.timeReplaced, m.unmatched}
	for _, name := range []string{"topic", "address"} {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "cw_gateway_decode_cache_evictions_total",
			Help:        "Strings dropped from a full decoder cache (topic: Set.DecodeBytes's topics; address: Tasmota sensor addresses). A steady rate means more distinct topics than the bound, from a misconfigured or hostile publisher, and costs an allocation per message.",
			ConstLabels: prometheus.Labels{"cache": name},
		}, evictions[name]))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("decode: register metrics: %w", err)
		}
	}
	return m, nil
}

// cacheEvictions returns the eviction counts of the Set's topic cache and
// of the decoders' address caches, summed, for newMetrics.
func cacheEvictions(topics *stringCache, decs []Decoder) map[string]func() float64 {
	var addrs []*stringCache
	for _, d := range decs {
		if c, ok := d.(interface{ addressCache() *stringCache }); ok {
			addrs = append(addrs, c.addressCache())
		}
	}
	return map[string]func() float64{
		"topic": func() float64 { return float64(topics.evictions.Load()) },
		"address": func() float64 {
			var n uint64
			for _, c := range addrs {
				n += c.evictions.Load()
			}
			return float64(n)
		},
	}
}
