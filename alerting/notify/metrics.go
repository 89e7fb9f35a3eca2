package notify

import "github.com/prometheus/client_golang/prometheus"

// Results counted in cw_alerting_notifications_total.
const (
	resultSent         = "sent"
	resultFailed       = "failed" // one channel failed finally; a fallback may follow
	resultSilenced     = "silenced"
	resultDeduplicated = "deduplicated"
	resultDead         = "dead"
)

type metrics struct {
	notifications   *prometheus.CounterVec
	retries         *prometheus.CounterVec
	budgetExhausted prometheus.Counter
	deadLetters     prometheus.Counter
	escalations     *prometheus.CounterVec
	logCorrupt      prometheus.Counter
	acks            *prometheus.CounterVec
	stateErrors     prometheus.Counter
	silenceRequests *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_notifications_total",
			Help: "Notifications by channel and result (sent, failed, silenced, deduplicated, dead).",
		}, []string{"channel", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_notify_retries_total",
			Help: "Retries of transient delivery failures by channel.",
		}, []string{"channel"}),
		budgetExhausted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_alerting_sms_budget_exhausted_total",
			Help: "SMS not sent because the number's budget (ours or the provider's) was spent; a fallback channel was tried.",
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_alerting_dead_letters_total",
			Help: "Notifications that failed on every channel.",
		}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_escalations_total",
			Help: "Escalation steps and reminders that came due, by step.",
		}, []string{"step"}),
		logCorrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_alerting_notify_log_corrupt_total",
			Help: "Times the notification log was truncated at a corrupt record on start.",
		}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_acks_total",
			Help: "Acknowledgements by source (http, aliyun_reply, tencent_reply) and result (ok, unknown, rejected, wrong_sender: an SMS reply from a number that was not sent the code).",
		}, []string{"source", "result"}),
		stateErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_alerting_notify_state_errors_total",
			Help: "Failures to write the notification log or escalation state.",
		}),
		silenceRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_silence_requests_total",
			Help: "Silences requested over HTTP by result (added, rejected, failed: not saved).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.notifications, m.retries, m.budgetExhausted, m.deadLetters,
		m.escalations, m.logCorrupt, m.acks, m.stateErrors, m.silenceRequests} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
