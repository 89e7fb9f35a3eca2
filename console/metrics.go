package console

import "github.com/prometheus/client_golang/prometheus"

// metrics are the console's own counters (the access kit counts logins,
// refusals at the door and audit records; ctlbus counts commands).
type metrics struct {
	actions   *prometheus.CounterVec
	refused   *prometheus.CounterVec
	fallbacks prometheus.Counter
	api       *prometheus.CounterVec
	callbacks *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_console_actions_total",
			Help: "State-changing actions by action (ack, silence, unsilence, spot_draw, spot_publish, spot_result, spot_inspector) and result (ok, refused, not_found, unavailable, invalid, error)."},
			[]string{"action", "result"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_console_refused_total",
			Help: "Page requests refused by reason (not_found: a facility, alert or draw that does not exist or is outside the person's scope, answered alike; bad_link: an invalid or expired SMS link; bad_request)."},
			[]string{"reason"}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_console_record_fallbacks_total",
			Help: "Pages that showed alerts from the InfluxDB record because an alerting instance did not answer."}),
	}
	m.api = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_console_api_requests_total",
		Help: "JSON API requests by endpoint (alerts, alert, ack, silences, silence, unsilence) and result (ok, incomplete: some alerting instances did not answer; bad_request, forbidden, not_found, refused: the silence policy or the owner said no; unavailable: the owner did not answer, nothing changed; error)."},
		[]string{"endpoint", "result"})
	m.callbacks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_console_sms_replies_total",
		Help: "SMS replies pushed by a provider past its callback guard, by provider and result (acknowledged: a code acknowledged an alert; wrong_code; no_code: a reply without a code; locked: the number or source is locked out; unavailable: some alerting instance did not answer, the provider is asked to push again; bad_body)."},
		[]string{"provider", "result"})
	reg.MustRegister(m.actions, m.refused, m.fallbacks, m.api, m.callbacks)
	return m
}
