package collector

import (
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// lagGroup is a run of consecutive lines of a write whose readings were
// measured at the same millisecond (a Zigbee2MQTT message gives four), and
// therefore share one lag.
type lagGroup struct {
	ms int64 // measurement time, Unix milliseconds
	n  uint64
}

// addLag counts one more reading measured at ms into w's lag groups.
func (w *work) addLag(ms int64) {
	if k := len(w.lag) - 1; k >= 0 && w.lag[k].ms == ms {
		w.lag[k].n++
		return
	}
	w.lag = append(w.lag, lagGroup{ms: ms, n: 1})
}

// lagHistogram is cw_collector_lag_seconds, the time from each reading's
// measurement to its write in InfluxDB: one observation per reading, as
// with a prometheus.Histogram, but added a group of readings with the same
// lag at a time. Observing every reading of every write one by one was
// a visible share of the collector's CPU.
type lagHistogram struct {
	desc   *prometheus.Desc
	bounds []float64 // upper bounds, ascending; +Inf is implied

	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	count  uint64
	sum    float64
}

func newLagHistogram(name, help string, bounds []float64) *lagHistogram {
	return &lagHistogram{
		desc:   prometheus.NewDesc(name, help, nil, nil),
		bounds: bounds,
		counts: make([]uint64, len(bounds)+1),
	}
}

// observe records the lags of a write's readings, stored at now.
func (h *lagHistogram) observe(groups []lagGroup, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, g := range groups {
		v := now.Sub(time.UnixMilli(g.ms)).Seconds()
		// Buckets are upper-inclusive, as in Prometheus: the first bound ≥ v.
		h.counts[sort.SearchFloat64s(h.bounds, v)] += g.n
		h.count += g.n
		h.sum += v * float64(g.n)
	}
}

// Describe implements prometheus.Collector.
func (h *lagHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector.
func (h *lagHistogram) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	buckets := make(map[float64]uint64, len(h.bounds))
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		buckets[b] = cum
	}
	count, sum := h.count, h.sum
	h.mu.Unlock()
	ch <- prometheus.MustNewConstHistogram(h.desc, count, sum, buckets)
}
