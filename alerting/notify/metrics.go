package notify

import "github.com/prometheus/client_golang/prometheus"

// Results counted in cw_alerting_notifications_total.
const (
	resultSent         = "sent"         // delivered on the channel
	resultFailed       = "failed"       // the channel gave up (after its retries); another channel may follow
	resultSilenced     = "silenced"     // in a maintenance window
	resultDeduplicated = "deduplicated" // already delivered (a re-queued transition, a restart)
	resultDead         = "dead"         // every channel failed: dead letter
	resultCancelled    = "cancelled"    // acknowledged or resolved before it left
	resultUnannounced  = "unannounced"  // a resolution whose alert never reached the recipient
	resultGone         = "gone"         // the recipient left the directory while the notice waited
)

type metrics struct {
	notifications   *prometheus.CounterVec
	retries         *prometheus.CounterVec
	fallbacks       *prometheus.CounterVec
	budgetExhausted prometheus.Counter
	deadLetters     prometheus.Counter
	escalations     *prometheus.CounterVec
	expedited       prometheus.Counter
	noRecipient     *prometheus.CounterVec
	acks            *prometheus.CounterVec
	stateErrors     prometheus.Counter
	inDoubt         *prometheus.CounterVec
}

// Results counted in cw_alerting_notify_in_doubt_total.
const (
	doubtConfirmed = "confirmed" // the provider had it: recorded as sent, not sent again
	doubtNotTaken  = "not_taken" // the provider did not have it (or reported it undeliverable): sent again
	doubtUnknown   = "unknown"   // the provider could not be asked: sent again, a possible duplicate
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_notifications_total",
			Help: "Notification outcomes by channel (none when no channel was tried) and result (sent, failed, silenced, deduplicated, dead, cancelled, unannounced, gone).",
		}, []string{"channel", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_notify_retries_total",
			Help: "Transient delivery failures scheduled for another attempt, by channel.",
		}, []string{"channel"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_notify_fallbacks_total",
			Help: "Notices delivered on a fallback channel (SMS over budget or failed; a call because a critical SMS failed), by channel.",
		}, []string{"channel"}),
		budgetExhausted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_alerting_sms_budget_exhausted_total",
			Help: "SMS not sent because the number's budget (ours or the provider's) was spent; fallback channels were tried (voice and the street office for a critical alert).",
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_alerting_dead_letters_total",
			Help: "Notices that failed on every channel.",
		}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_escalations_total",
			Help: "Escalation steps, reminders and resolutions that came due, by step.",
		}, []string{"step"}),
		expedited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_alerting_escalations_expedited_total",
			Help: "Critical alerts whose operator's SMS did not go through, so the street office was told at once.",
		}),
		noRecipient: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_notify_no_recipient_total",
			Help: "Escalation steps due with nobody in the directory to notify, by kind.",
		}, []string{"kind"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_acks_total",
			Help: "Acknowledgements by source (ctl: a command of the front door; sms: an SMS reply forwarded by it) and result (ok, unknown, wrong_sender: an SMS reply from a number that was not sent the code).",
		}, []string{"source", "result"}),
		stateErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_alerting_notify_state_errors_total",
			Help: "Failures to write the outbox or the notification log.",
		}),
		inDoubt: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_alerting_notify_in_doubt_total",
			Help: "Deliveries in doubt (handed to the provider, no answer recorded: a crash or a lost answer) asked about before another attempt, by channel and result (confirmed: the provider had it, not sent again; not_taken: sent again; unknown: the provider could not be asked, sent again, a possible duplicate).",
		}, []string{"channel", "result"}),
	}
	for _, c := range []prometheus.Collector{m.notifications, m.retries, m.fallbacks, m.budgetExhausted, m.deadLetters,
		m.escalations, m.expedited, m.noRecipient, m.acks, m.stateErrors, m.inDoubt} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
