package ctlbus

import "github.com/prometheus/client_golang/prometheus"

// Results counted on the requester's side, beside the model.ReplyStatus
// values.
const (
	resultTimeout    = "timeout"    // the owner did not answer before the deadline
	resultIncomplete = "incomplete" // a query missed some shards' answers
	resultPublish    = "publish_failed"
)

// Results counted on the responder's side, beside the model.ReplyStatus
// values.
const (
	resultBadMAC    = "bad_mac"
	resultExpired   = "expired"
	resultDuplicate = "duplicate"
	resultMalformed = "malformed"
	resultQueueFull = "queue_full"
	resultNotOwned  = "not_owned"
)

type requesterMetrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	late     prometheus.Counter
}

func newRequesterMetrics(reg prometheus.Registerer) *requesterMetrics {
	m := &requesterMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_ctl_requests_total",
			Help: "Commands and queries sent to alerting instances, by kind and result (a reply status, timeout, incomplete or publish_failed).",
		}, []string{"kind", "result"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cw_ctl_request_seconds",
			Help:    "Time from sending a command to its last reply.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"kind"}),
		late: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_ctl_replies_unmatched_total",
			Help: "Replies that matched no waiting request (it had timed out, or the reply was forged or duplicated).",
		}),
	}
	reg.MustRegister(m.requests, m.seconds, m.late)
	return m
}

type responderMetrics struct {
	commands *prometheus.CounterVec
}

func newResponderMetrics(reg prometheus.Registerer) *responderMetrics {
	m := &responderMetrics{commands: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cw_ctl_commands_total",
		Help: "Commands and queries received by this alerting instance, by kind and result (a reply status, bad_mac, expired, duplicate, malformed, queue_full or not_owned).",
	}, []string{"kind", "result"})}
	reg.MustRegister(m.commands)
	return m
}
