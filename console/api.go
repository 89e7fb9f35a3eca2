package console

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/web"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// The versioned JSON API of alerts and silences (docs/api/alerting.yaml):
// the same questions and actions as the pages, for machines (API tokens)
// and people (sessions), behind the access kit's JSON front (bearer token
// or session, Content-Type: application/json on POST, cross-origin
// protection, body limit, no internal error text). Every request is
// authorised against the facility's registered region (access.Authorize)
// and goes to the alerting instance that owns the facility over the
// control bus; lists are gathered from every instance, naming those that
// did not answer. Each answer is counted in
// cw_console_api_requests_total{endpoint,result}.

// apiHandler is an API endpoint: it answers and returns the result for
// the counter.
type apiHandler func(w http.ResponseWriter, r *http.Request, p access.Principal) string

// apiRoutes registers the API on mux.
func (c *Console) apiRoutes(mux *http.ServeMux) {
	c.apiRoutesEach(func(pattern, endpoint string, h apiHandler) {
		mux.Handle(pattern, c.kit.Front.Private(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := access.FromContext(r.Context()) // Private put it there
			c.m.api.WithLabelValues(endpoint, h(w, r, p)).Inc()
		})))
	})
}

// apiRoutesDo calls f with each API route's pattern (for the OpenAPI
// file's test).
func (c *Console) apiRoutesDo(f func(pattern string)) {
	c.apiRoutesEach(func(pattern, _ string, _ apiHandler) { f(pattern) })
}

func (c *Console) apiRoutesEach(api func(pattern, endpoint string, h apiHandler)) {
	api("GET /api/v1/alerts", "alerts", c.apiAlerts)
	api("GET /api/v1/alerts/{fingerprint}", "alert", c.apiAlert)
	api("POST /api/v1/alerts/{fingerprint}/ack", "ack", c.apiAck)
	api("GET /api/v1/facilities/{id}/silences", "silences", c.apiSilences)
	api("POST /api/v1/facilities/{id}/silences", "silence", c.apiSilence)
	api("DELETE /api/v1/silences/{id}", "unsilence", c.apiUnsilence)
}

// Results of cw_console_api_requests_total.
const (
	apiOK          = "ok"
	apiIncomplete  = "incomplete"  // a list some instances did not answer
	apiBadRequest  = "bad_request" // malformed parameter or body
	apiForbidden   = "forbidden"   // outside the principal's role or scope (or no such facility)
	apiNotFound    = "not_found"   // no such alert or silence in scope
	apiRefused     = "refused"     // the silence policy or the owner said no
	apiUnavailable = "unavailable" // the owner did not answer; nothing was changed
	apiError       = "error"
)

// Answers of the API.
type (
	// AlertsJSON answers GET /api/v1/alerts.
	AlertsJSON struct {
		Alerts []model.AlertView `json:"alerts"`
		Count  int               `json:"count"`
		// MissingShards are the alerting instances that did not answer:
		// their facilities' alerts are not in the list.
		MissingShards []int `json:"missing_shards,omitempty"`
		Incomplete    bool  `json:"incomplete,omitempty"`
	}
	// SilencesJSON answers GET /api/v1/facilities/{id}/silences.
	SilencesJSON struct {
		Silences      []model.SilenceView `json:"silences"`
		MissingShards []int               `json:"missing_shards,omitempty"`
		Incomplete    bool                `json:"incomplete,omitempty"`
	}
	// AckJSON is the body of POST /api/v1/alerts/{fingerprint}/ack.
	AckJSON struct {
		Comment string `json:"comment,omitempty"`
	}
	// SilenceJSON is the body of POST /api/v1/facilities/{id}/silences:
	// end, or a duration from start ("2h30m"); start defaults to now.
	SilenceJSON struct {
		Start    time.Time `json:"start,omitzero"`
		End      time.Time `json:"end,omitzero"`
		Duration string    `json:"duration,omitempty"`
		Reason   string    `json:"reason"`
	}
)

func (c *Console) apiError(w http.ResponseWriter, r *http.Request, err error) string {
	var re *RefusedError
	var se *access.SilenceError
	switch {
	case errors.Is(err, ErrNotFound):
		web.Error(w, http.StatusNotFound, "no such alert or silence of the facility (resolved, ended, or never)")
		return apiNotFound
	case errors.Is(err, ErrUnavailable):
		// The body of a 5xx is replaced by a reference; the status says it.
		w.Header().Set("Retry-After", "5")
		web.Error(w, http.StatusServiceUnavailable, ErrUnavailable.Error())
		return apiUnavailable
	case errors.As(err, &se):
		web.Error(w, http.StatusUnprocessableEntity, se.Error())
		return apiRefused
	case errors.Is(err, access.ErrDenied):
		c.kit.Front.Forbidden(w, r, err)
		return apiForbidden
	case errors.As(err, &re):
		web.Error(w, http.StatusUnprocessableEntity, re.Reason)
		return apiRefused
	case errors.Is(err, context.Canceled):
		return apiError
	}
	web.Internal(w, r, c.log, err)
	return apiError
}

func badRequest(w http.ResponseWriter, msg string) string {
	web.Error(w, http.StatusBadRequest, "bad request: "+msg)
	return apiBadRequest
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiFacility is the registered facility id if p may do a to it; an
// unknown facility and one outside p's scope are both refused with 403
// (counted and logged by the front), so an ID gives no hint.
func (c *Console) apiFacility(w http.ResponseWriter, r *http.Request, p access.Principal, id string, a access.Action) *registry.Facility {
	f := c.reg.Snapshot().Facility(id)
	target := access.ForFacility(id, "")
	if f != nil {
		target = access.ForFacility(f.ID, f.Region)
	}
	err := access.Authorize(p, a, target)
	if f == nil && err == nil {
		err = &access.Denied{Actor: p.Actor(), Action: a, Reason: "facility " + id + " is not registered"}
	}
	if err != nil {
		c.kit.Front.Forbidden(w, r, err)
		return nil
	}
	return f
}

// visibleAlerts keeps the alerts of registered facilities p may view:
// whatever an instance sent, the registry decides.
func (c *Console) visibleAlerts(p access.Principal, in []model.AlertView) []model.AlertView {
	snap := c.reg.Snapshot()
	out := []model.AlertView{}
	for _, a := range in {
		f := snap.Facility(a.Facility)
		if f != nil && access.Authorize(p, access.ActionView, access.ForFacility(f.ID, f.Region)) == nil {
			out = append(out, a)
		}
	}
	return out
}

// apiAlerts: GET /api/v1/alerts?region=&facility=&state=&severity=.
func (c *Console) apiAlerts(w http.ResponseWriter, r *http.Request, p access.Principal) string {
	q := r.URL.Query()
	scope := scopeOf(p)
	switch {
	case q.Get("facility") != "":
		f := c.apiFacility(w, r, p, q.Get("facility"), access.ActionView)
		if f == nil {
			return apiForbidden
		}
		scope = Scope{Facilities: []string{f.ID}}
	case q.Get("region") != "":
		code, err := model.ParseRegionCode(q.Get("region"))
		if err != nil {
			return badRequest(w, "region: "+err.Error())
		}
		if err := access.Authorize(p, access.ActionView, access.ForRegion(code)); err != nil {
			c.kit.Front.Forbidden(w, r, err)
			return apiForbidden
		}
		scope = Scope{Region: code}
	}
	state, sev := q.Get("state"), q.Get("severity")
	if state != "" && !slices.Contains([]string{"pending", "firing", "acknowledged"}, state) {
		return badRequest(w, "state: want pending, firing or acknowledged")
	}
	if sev != "" && !slices.Contains([]string{"info", "warning", "critical"}, sev) {
		return badRequest(w, "severity: want info, warning or critical")
	}
	alerts, missing, err := c.backend.Alerts(r.Context(), scope, actor(p))
	if err != nil {
		return c.apiError(w, r, err)
	}
	if len(missing) == c.backend.Shards() {
		return c.apiError(w, r, ErrUnavailable)
	}
	out := AlertsJSON{Alerts: []model.AlertView{}, MissingShards: missing, Incomplete: len(missing) > 0}
	for _, a := range c.visibleAlerts(p, alerts) {
		if (state == "" || a.State == state) && (sev == "" || a.Severity == sev) {
			out.Alerts = append(out.Alerts, a)
		}
	}
	slices.SortFunc(out.Alerts, func(a, b model.AlertView) int {
		return cmp.Or(strings.Compare(a.Facility, b.Facility), strings.Compare(a.Fingerprint, b.Fingerprint))
	})
	out.Count = len(out.Alerts)
	writeJSON(w, http.StatusOK, out)
	if out.Incomplete {
		return apiIncomplete
	}
	return apiOK
}

// locate finds the facility of alert fp among the alerts p may view (a
// request that names no facility); "" when it is not there.
func (c *Console) locate(ctx context.Context, p access.Principal, fp string) (string, error) {
	alerts, missing, err := c.backend.Alerts(ctx, scopeOf(p), actor(p))
	if err != nil {
		return "", err
	}
	for _, a := range c.visibleAlerts(p, alerts) {
		if a.Fingerprint == fp {
			return a.Facility, nil
		}
	}
	if len(missing) > 0 {
		return "", ErrUnavailable // it may be a silent instance's
	}
	return "", ErrNotFound
}

// alertTarget is the facility of the alert a request names, authorised
// for a: ?facility= when given, else found among p's alerts.
func (c *Console) alertTarget(w http.ResponseWriter, r *http.Request, p access.Principal, a access.Action) (*registry.Facility, string, string) {
	fp := r.PathValue("fingerprint")
	if !isFingerprint(fp) {
		return nil, "", badRequest(w, "a fingerprint is 16 lower-case hex digits")
	}
	id := r.URL.Query().Get("facility")
	if id == "" {
		var err error
		if id, err = c.locate(r.Context(), p, fp); err != nil {
			return nil, "", c.apiError(w, r, err)
		}
	}
	f := c.apiFacility(w, r, p, id, a)
	if f == nil {
		return nil, "", apiForbidden
	}
	return f, fp, ""
}

// apiAlert: GET /api/v1/alerts/{fingerprint}[?facility=], the alert with
// its history from its owner.
func (c *Console) apiAlert(w http.ResponseWriter, r *http.Request, p access.Principal) string {
	f, fp, res := c.alertTarget(w, r, p, access.ActionView)
	if f == nil {
		return res
	}
	a, err := c.backend.Alert(r.Context(), f.ID, fp, actor(p))
	if err != nil {
		return c.apiError(w, r, err)
	}
	writeJSON(w, http.StatusOK, a)
	return apiOK
}

// apiAck: POST /api/v1/alerts/{fingerprint}/ack[?facility=] {comment}.
// The actor is the authenticated principal; a body naming one is refused
// (unknown field).
func (c *Console) apiAck(w http.ResponseWriter, r *http.Request, p access.Principal) string {
	var body AckJSON
	if !web.DecodeJSON(w, r, &body) {
		return apiBadRequest
	}
	body.Comment = strings.TrimSpace(body.Comment)
	if len([]rune(body.Comment)) > maxField {
		return badRequest(w, "comment: at most "+strconv.Itoa(maxField)+" characters")
	}
	f, fp, res := c.alertTarget(w, r, p, access.ActionAcknowledge)
	if f == nil {
		return res
	}
	a, err := c.acknowledge(r.Context(), p, f, fp, body.Comment, "api")
	if err != nil {
		return c.apiError(w, r, err)
	}
	writeJSON(w, http.StatusOK, a)
	return apiOK
}

// apiSilences: GET /api/v1/facilities/{id}/silences.
func (c *Console) apiSilences(w http.ResponseWriter, r *http.Request, p access.Principal) string {
	f := c.apiFacility(w, r, p, r.PathValue("id"), access.ActionView)
	if f == nil {
		return apiForbidden
	}
	sils, missing, err := c.facilitySilences(r.Context(), p, f.ID)
	switch {
	case err != nil:
		return c.apiError(w, r, err)
	case slices.Contains(missing, model.ShardOf(f.ID, c.backend.Shards())):
		return c.apiError(w, r, ErrUnavailable)
	}
	writeJSON(w, http.StatusOK, SilencesJSON{Silences: sils})
	return apiOK
}

// apiSilence: POST /api/v1/facilities/{id}/silences {start, end or
// duration, reason}: checked here against the silence policy over the
// facility's silences, and again by the owner over its own.
func (c *Console) apiSilence(w http.ResponseWriter, r *http.Request, p access.Principal) string {
	var body SilenceJSON
	if !web.DecodeJSON(w, r, &body) {
		return apiBadRequest
	}
	f := c.apiFacility(w, r, p, r.PathValue("id"), access.ActionSilence)
	if f == nil {
		return apiForbidden
	}
	start := body.Start
	if start.IsZero() {
		start = c.now()
	}
	end := body.End
	switch {
	case body.Duration != "" && !end.IsZero():
		return badRequest(w, "give end or duration, not both")
	case body.Duration != "":
		d, err := time.ParseDuration(body.Duration)
		if err != nil || d <= 0 {
			return badRequest(w, "duration: want a positive Go duration such as 2h30m")
		}
		end = start.Add(d)
	case end.IsZero():
		return badRequest(w, "end or duration is required")
	}
	reason := strings.TrimSpace(body.Reason)
	if len([]rune(reason)) > maxField {
		return badRequest(w, "reason: at most "+strconv.Itoa(maxField)+" characters")
	}
	req := access.SilenceRequest{Facility: f.ID, Region: f.Region, Start: start, End: end, Reason: reason}
	sv, err := c.addSilence(r.Context(), p, f, req, "api")
	if err != nil {
		return c.apiError(w, r, err)
	}
	writeJSON(w, http.StatusCreated, sv)
	return apiOK
}

// apiUnsilence: DELETE /api/v1/silences/{id}[?facility=] ends a silence
// now; without the facility it is found among the silences p may see.
func (c *Console) apiUnsilence(w http.ResponseWriter, r *http.Request, p access.Principal) string {
	id := r.PathValue("id")
	if model.ValidateID("silence", id) != nil {
		return badRequest(w, "not a silence id")
	}
	fid := r.URL.Query().Get("facility")
	if fid == "" {
		sils, missing, err := c.backend.Silences(r.Context(), scopeOf(p), actor(p))
		if err != nil {
			return c.apiError(w, r, err)
		}
		for _, s := range sils {
			if f := c.reg.Snapshot().Facility(s.Facility); s.ID == id && f != nil &&
				access.Authorize(p, access.ActionView, access.ForFacility(f.ID, f.Region)) == nil {
				fid = s.Facility
			}
		}
		switch {
		case fid == "" && len(missing) > 0:
			return c.apiError(w, r, ErrUnavailable)
		case fid == "":
			return c.apiError(w, r, ErrNotFound)
		}
	}
	f := c.apiFacility(w, r, p, fid, access.ActionSilence)
	if f == nil {
		return apiForbidden
	}
	sv, err := c.endSilence(r.Context(), p, f, id, "api")
	if err != nil {
		return c.apiError(w, r, err)
	}
	writeJSON(w, http.StatusOK, sv)
	return apiOK
}
