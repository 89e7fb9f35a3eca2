package alerting

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/alerting/state"
	"github.com/cradlewatch/cradlewatch/model"
)

// The HTTP API (docs/api/alerting.yaml is its OpenAPI description).
// Handlers are small http.Handlers registered in routes, so that
// authentication and routing to the owning instance can wrap them.
const (
	// maxAPIBody bounds request bodies of the HTTP API.
	maxAPIBody = 4096
	// Alert history entries returned by default and at most.
	defaultHistory = 100
	maxHistory     = 1000
)

// routes registers the API on the operational server.
func (s *Service) routes() {
	for _, r := range []struct {
		pattern string
		h       http.Handler
	}{
		{"POST /api/v1/ack", s.ackHandler()},
		{"GET /api/v1/alerts", s.alertsHandler()},
		{"GET /api/v1/alerts/{fingerprint}", s.alertHandler()},
		{"/api/v1/silences", s.disp.SilencesHandler()},
		// Upstream SMS (replies with the ack code), pushed by the providers.
		{"POST /api/v1/sms/aliyun", s.disp.AliyunReplyHandler()},
		{"POST /api/v1/sms/tencent", s.disp.TencentReplyHandler()},
	} {
		s.http.Handle(r.pattern, r.h)
	}
}

type ackRequest struct {
	fingerprint, actor string
	done               chan error
}

// query asks the engine's goroutine for the alerts it holds (fingerprint
// "") or for one alert.
type query struct {
	fingerprint string
	reply       chan answer
}

type answer struct {
	alerts []rules.Alert
	found  bool
}

// answer runs on the engine's goroutine.
func (s *Service) answer(q query) answer {
	if q.fingerprint == "" {
		return answer{alerts: s.engine.Alerts()}
	}
	a, ok := s.engine.Alert(q.fingerprint)
	return answer{alerts: []rules.Alert{a}, found: ok}
}

// ask sends q to the engine's goroutine; false when the request ended
// first.
func (s *Service) ask(r *http.Request, fingerprint string) (answer, bool) {
	q := query{fingerprint: fingerprint, reply: make(chan answer, 1)}
	select {
	case s.queries <- q:
	case <-r.Context().Done():
		return answer{}, false
	}
	select {
	case a := <-q.reply:
		return a, true
	case <-r.Context().Done():
		return answer{}, false
	}
}

// AlertJSON is an alert as the API shows it.
type AlertJSON struct {
	Fingerprint  string   `json:"fingerprint"`
	Rule         string   `json:"rule"`
	Facility     string   `json:"facility"`
	FacilityName string   `json:"facility_name,omitempty"`
	Region       string   `json:"region,omitempty"`
	Room         string   `json:"room,omitempty"`
	RoomName     string   `json:"room_name,omitempty"`
	Device       string   `json:"device,omitempty"`
	Kind         string   `json:"kind,omitempty"`
	Severity     string   `json:"severity"`
	State        string   `json:"state"`
	Value        *float64 `json:"value"`
	Limit        *float64 `json:"limit"`
	Description  string   `json:"description"`
	Since        string   `json:"since,omitempty"`
	FiredAt      string   `json:"fired_at,omitempty"`
	ResolvedAt   string   `json:"resolved_at,omitempty"`
	AckedBy      string   `json:"acked_by,omitempty"`
	AckedAt      string   `json:"acked_at,omitempty"`
	Escalate     bool     `json:"escalate"`
	Announced    bool     `json:"announced"`
	Platform     bool     `json:"platform,omitempty"`
}

// AlertsJSON is the answer of GET /api/v1/alerts.
type AlertsJSON struct {
	Alerts []AlertJSON `json:"alerts"`
	Count  int         `json:"count"`
}

// HistoryJSON is one entry of an alert's history.
type HistoryJSON struct {
	At    string `json:"at"`
	Event string `json:"event"` // transition, or notified (the notification path accepted it)
	From  string `json:"from,omitempty"`
	To    string `json:"to"`
	// Notify: the transition was to be announced (false for replayed
	// data, pending and acknowledgement).
	Notify bool     `json:"notify,omitempty"`
	Actor  string   `json:"actor,omitempty"`
	Value  *float64 `json:"value,omitempty"`
	Limit  *float64 `json:"limit,omitempty"`
}

// AlertDetailJSON is the answer of GET /api/v1/alerts/{fingerprint}.
type AlertDetailJSON struct {
	Alert            AlertJSON     `json:"alert"`
	History          []HistoryJSON `json:"history"`
	HistoryTruncated bool          `json:"history_truncated"`
}

// ErrorJSON is the body of every error answer.
type ErrorJSON struct {
	Error string `json:"error"`
}

// apiTime renders a time as RFC 3339 in UTC with milliseconds; "" for the
// zero time.
func apiTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func finitePtr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// alertJSON renders an engine alert with the registry's names.
func (s *Service) alertJSON(a rules.Alert) AlertJSON {
	out := AlertJSON{
		Fingerprint: a.Fingerprint, Rule: a.Rule, Facility: a.Facility, Room: a.Room, Device: a.Device,
		Severity: a.Severity.String(), State: a.State.String(), Value: finitePtr(a.Value), Limit: finitePtr(a.Limit),
		Description: a.Description, Since: apiTime(a.Since), FiredAt: apiTime(a.FiredAt), ResolvedAt: apiTime(a.ResolvedAt),
		AckedBy: a.AckedBy, AckedAt: apiTime(a.AckedAt), Escalate: a.Escalate, Announced: a.Announced,
		Platform: a.Facility == s.cfg.Platform.ID,
	}
	if a.Kind != model.KindUnknown {
		out.Kind = a.Kind.String()
	}
	if f := s.facility(a.Facility); f != nil {
		out.FacilityName, out.Region = f.Name, string(f.Region)
		for _, r := range f.Rooms {
			if r.ID == a.Room {
				out.RoomName = r.Name
			}
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorJSON{Error: msg})
}

// ackHandler serves POST /api/v1/ack {"code"|"fingerprint", "actor"}: the
// notification path stops escalating and the engine records the
// acknowledgement with its actor. Authentication belongs in front of it.
func (s *Service) ackHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Code        string `json:"code"`
			Fingerprint string `json:"fingerprint"`
			Actor       string `json:"actor"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, maxAPIBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || strings.TrimSpace(req.Actor) == "" || (req.Code == "" && req.Fingerprint == "") {
			s.m.apiRejected.WithLabelValues("ack", "bad_request").Inc()
			writeError(w, http.StatusBadRequest, `bad request: want {"code" or "fingerprint", "actor"}`)
			return
		}
		ref := req.Fingerprint
		if ref == "" {
			ref = req.Code
		}
		a, err := s.disp.Ack(ref, req.Actor, "http")
		fp := a.Fingerprint
		switch {
		case err == nil:
			// OnAck has told the engine.
		case errors.Is(err, notify.ErrUnknownAck) && req.Fingerprint != "":
			// Not escalating (never announced, or already resolved): the
			// engine may still know it.
			fp = req.Fingerprint
			done := make(chan error, 1)
			select {
			case s.acks <- ackRequest{fingerprint: fp, actor: req.Actor, done: done}:
			case <-r.Context().Done():
				return
			}
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, rules.ErrNotFiring) {
					s.m.apiRejected.WithLabelValues("ack", "unknown").Inc()
					writeError(w, http.StatusNotFound, err.Error())
					return
				}
			case <-r.Context().Done():
				return
			}
		default:
			s.m.apiRejected.WithLabelValues("ack", "unknown").Inc()
			writeError(w, http.StatusNotFound, "no open alert for that code or fingerprint")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"fingerprint": fp, "acknowledged": true})
	})
}

// alertsHandler serves GET /api/v1/alerts: the alerts the engine holds
// (pending, firing, acknowledged), optionally narrowed by region
// (?region=110105: a province, city, county or street code,
// model.RegionCode, the same scoping the regulators' dashboards use),
// facility, state and severity. Platform alerts have no region: a region
// filter leaves them out.
func (s *Service) alertsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		region := model.Nationwide()
		if v := q.Get("region"); v != "" {
			var err error
			if region, err = model.ParseRegionCode(v); err != nil {
				s.m.apiRejected.WithLabelValues("alerts", "bad_request").Inc()
				writeError(w, http.StatusBadRequest, "bad request: region: "+err.Error())
				return
			}
		}
		var st rules.State
		if v := q.Get("state"); v != "" {
			if err := st.UnmarshalText([]byte(v)); err != nil {
				s.m.apiRejected.WithLabelValues("alerts", "bad_request").Inc()
				writeError(w, http.StatusBadRequest, "bad request: state: want pending, firing or acknowledged")
				return
			}
		}
		var sev rules.Severity
		if v := q.Get("severity"); v != "" {
			var err error
			if sev, err = rules.ParseSeverity(v); err != nil {
				s.m.apiRejected.WithLabelValues("alerts", "bad_request").Inc()
				writeError(w, http.StatusBadRequest, "bad request: severity: "+err.Error())
				return
			}
		}
		facility := q.Get("facility")
		ans, ok := s.ask(r, "")
		if !ok {
			return
		}
		out := AlertsJSON{Alerts: make([]AlertJSON, 0, len(ans.alerts))}
		for _, a := range ans.alerts {
			f := s.facility(a.Facility)
			switch {
			case region.Level() != model.LevelCountry && (f == nil || !region.Contains(f.Region)):
			case facility != "" && a.Facility != facility:
			case q.Get("state") != "" && a.State != st:
			case q.Get("severity") != "" && a.Severity != sev:
			default:
				out.Alerts = append(out.Alerts, s.alertJSON(a))
			}
		}
		out.Count = len(out.Alerts)
		writeJSON(w, http.StatusOK, out)
	})
}

// alertHandler serves GET /api/v1/alerts/{fingerprint}: one alert, in
// whatever state the engine holds it, with its history from the state
// store (?history=N newest entries, default 100, at most 1000).
func (s *Service) alertHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fp := r.PathValue("fingerprint")
		limit := defaultHistory
		if v := r.URL.Query().Get("history"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxHistory {
				s.m.apiRejected.WithLabelValues("alert", "bad_request").Inc()
				writeError(w, http.StatusBadRequest, "bad request: history: want 0.."+strconv.Itoa(maxHistory))
				return
			}
			limit = n
		}
		if len(fp) != 16 || strings.Trim(fp, "0123456789abcdef") != "" {
			s.m.apiRejected.WithLabelValues("alert", "bad_request").Inc()
			writeError(w, http.StatusBadRequest, "bad request: a fingerprint is 16 lower-case hex digits")
			return
		}
		ans, ok := s.ask(r, fp)
		if !ok {
			return
		}
		if !ans.found {
			s.m.apiRejected.WithLabelValues("alert", "unknown").Inc()
			writeError(w, http.StatusNotFound, "no alert with that fingerprint on this instance")
			return
		}
		out := AlertDetailJSON{Alert: s.alertJSON(ans.alerts[0]), History: []HistoryJSON{}}
		if limit > 0 {
			entries, truncated, err := state.History(s.cfg.StateDir, fp, limit)
			if err != nil {
				s.log.Error("reading an alert's history failed", "fingerprint", fp, "err", err)
				writeError(w, http.StatusInternalServerError, "reading the alert's history failed")
				return
			}
			out.HistoryTruncated = truncated
			for _, e := range entries {
				out.History = append(out.History, historyJSON(e))
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func historyJSON(e state.Entry) HistoryJSON {
	tr := e.Transition
	if e.Notified {
		return HistoryJSON{At: apiTime(tr.At), Event: "notified", To: tr.To.String()}
	}
	return HistoryJSON{At: apiTime(tr.At), Event: "transition", From: tr.From.String(), To: tr.To.String(),
		Notify: tr.Notify, Actor: tr.Actor, Value: finitePtr(tr.Alert.Value), Limit: finitePtr(tr.Alert.Limit)}
}
