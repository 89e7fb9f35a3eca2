package influxproxy

import (
	"crypto/sha256"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a /query request, the values of the result label.
const (
	resultOK          = "ok"           // forwarded, InfluxDB answered 2xx
	resultInfluxError = "influx_error" // forwarded, InfluxDB answered an error status
	resultUnreachable = "unreachable"  // forwarded, InfluxDB did not answer
	resultRefused     = "refused"      // not forwarded (see refusals)
)

type metrics struct {
	queries  *prometheus.CounterVec
	refusals *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_influxproxy_queries_total",
			Help: "Query requests from Grafana, by result (ok, influx_error, unreachable, refused).",
		}, []string{"result"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_influxproxy_refusals_total",
			Help: "Requests refused and not forwarded, by reason (auth, user, request, database, parse, statement, into, source, unverified, render, path).",
		}, []string{"reason"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cw_influxproxy_query_seconds",
			Help:    "Time from a query request to its answer, InfluxDB's time included, by result.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"result"}),
	}
	reg.MustRegister(m.queries, m.refusals, m.seconds)
	for _, r := range []string{resultOK, resultInfluxError, resultUnreachable, resultRefused} {
		m.queries.WithLabelValues(r)
	}
	for _, r := range reasons {
		m.refusals.WithLabelValues(string(r))
	}
	return m
}

// onceLog remembers what was logged, so that a refused panel that Grafana
// sends again on every refresh is counted every time but logged once. It
// forgets everything when it holds maxOnce keys, so its memory is bounded
// and a persistent offender shows up again later.
type onceLog struct {
	mu   sync.Mutex
	seen map[[sha256.Size]byte]struct{}
}

const maxOnce = 4096

// first reports whether key is new. Keys are hashed: a refused query may
// be a megabyte long.
func (o *onceLog) first(key string) bool {
	h := sha256.Sum256([]byte(key))
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.seen[h]; ok {
		return false
	}
	if o.seen == nil || len(o.seen) >= maxOnce {
		o.seen = map[[sha256.Size]byte]struct{}{}
	}
	o.seen[h] = struct{}{}
	return true
}
