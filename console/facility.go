package console

import (
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
	"github.com/cradlewatch/cradlewatch/regulator/compliance"
)

// shownKinds are the kinds a facility page lists per room, in this order
// (battery, link quality and probe latency are the installer's business).
var shownKinds = []model.Kind{model.KindTemperature, model.KindHumidity, model.KindCO2, model.KindPM25, model.KindPM10,
	model.KindHCHO, model.KindTVOC, model.KindDoor, model.KindWindow, model.KindSmoke, model.KindGas,
	model.KindCameraOnline, model.KindCameraRecording, model.KindCameraRetention}

type readingView struct {
	Kind   string
	Value  string
	Unit   string
	At     time.Time
	Band   string // the rule set's limits now, "" when not judged
	Out    bool   // outside them
	Chart  bool   // a chart is worth drawing (a numeric kind)
	NoData bool
}

type roomView struct {
	ID, Name string
	Readings []readingView
}

// alertRow is an alert on a page, with whether it came from the record
// because its owner did not answer.
type alertRow struct {
	model.AlertView
	FacilityName string
	RoomName     string
	FromRecord   bool
}

type facilityData struct {
	F          *registry.Facility
	RegionName string
	Gateway    gatewayState
	Rooms      []roomView
	Alerts     []alertRow
	Silences   []model.SilenceView
	Missing    bool // the owner did not answer: alerts from the record, no actions
	CanAct     bool
	LongOK     bool // may silence longer than 24 h
	MaxHours   int
	Done       string
}

func (c *Console) regionName(r model.Region) string {
	code := string(r)
	for n := len(code); n >= 2; n-- {
		if name, ok := c.cfg.RegionNames[code[:n]]; ok {
			if n == len(code) {
				return name
			}
			return name + " " + code
		}
	}
	return code
}

func (c *Console) roomName(f *registry.Facility, id string) string {
	if r, ok := f.Room(id); ok && r.Name != "" {
		return r.Name
	}
	if id == "" {
		return "整体"
	}
	return id
}

// facilityPage is "my facility now": online or not, each room's last
// readings against the rule set's limits, open alerts and silences.
func (c *Console) facilityPage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	f := c.facilityFor(r, p, r.PathValue("facility"), access.ActionView)
	if f == nil {
		c.notFound(w, r, &p, "facility")
		return
	}
	ctx, now := r.Context(), c.now()
	d := facilityData{F: f, RegionName: c.regionName(f.Region), Done: r.URL.Query().Get("done")}
	d.CanAct = access.Authorize(p, access.ActionAcknowledge, access.ForFacility(f.ID, f.Region)) == nil
	d.LongOK, d.MaxHours = c.silenceBounds(p)
	gws, err := c.rec.gateways(ctx, Scope{Facilities: []string{f.ID}}, now, c.cfg.StaleAfter)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	d.Gateway = gws[f.ID]
	if d.Rooms, err = c.rooms(r, f, now); err != nil {
		c.unavailable(w, r, err)
		return
	}
	alerts, missing, err := c.alertsOf(r, p, Scope{Facilities: []string{f.ID}}, now)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	d.Missing = len(missing) > 0
	for _, a := range alerts {
		if a.State != "resolved" {
			d.Alerts = append(d.Alerts, a)
		}
	}
	if !d.Missing {
		sils, _, err := c.backend.Silences(ctx, Scope{Facilities: []string{f.ID}}, actor(p))
		if err == nil {
			for _, s := range sils {
				if s.Facility == f.ID && s.Effective().After(now) {
					d.Silences = append(d.Silences, s)
				}
			}
		}
	}
	c.render(w, r, http.StatusOK, "facility", view{Title: f.Name, Data: d})
}

// rooms lists each room's readings with the limits in force now.
func (c *Console) rooms(r *http.Request, f *registry.Facility, now time.Time) ([]roomView, error) {
	byRoom := map[string]map[model.Kind]bool{}
	for _, dev := range f.Devices {
		if byRoom[dev.Room] == nil {
			byRoom[dev.Room] = map[model.Kind]bool{}
		}
		for _, k := range dev.Kinds {
			byRoom[dev.Room][k] = true
		}
	}
	var kinds []model.Kind
	for _, k := range shownKinds {
		for _, ks := range byRoom {
			if ks[k] {
				kinds = append(kinds, k)
				break
			}
		}
	}
	last, err := c.rec.lastReadings(r.Context(), f.ID, kinds, now)
	if err != nil {
		return nil, err
	}
	cal, err := compliance.Calendar(c.rules, f)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(f.Rooms)+1)
	for _, rm := range f.Rooms {
		ids = append(ids, rm.ID)
	}
	if byRoom[""] != nil {
		ids = append(ids, "")
	}
	var out []roomView
	for _, id := range ids {
		if byRoom[id] == nil {
			continue
		}
		lim, err := c.rules.RoomLimits(f.ID, id, f.RoomType(id), cal)
		if err != nil {
			return nil, err
		}
		rv := roomView{ID: id, Name: c.roomName(f, id)}
		for _, k := range shownKinds {
			if !byRoom[id][k] {
				continue
			}
			rd := readingView{Kind: k.String(), Unit: unitOf(k), Chart: !k.IsState() && id != ""}
			if b, judged := lim.At(k, now); judged {
				rd.Band = bandText(b)
			}
			if v, ok := last[id][k]; ok {
				rd.Value, rd.At = readingText(k, v.Value), v.At
				if b, judged := lim.At(k, now); judged && !b.Contains(v.Value) {
					rd.Out = true
				}
			} else {
				rd.NoData = true
			}
			rv.Readings = append(rv.Readings, rd)
		}
		out = append(out, rv)
	}
	return out, nil
}

func unitOf(k model.Kind) string {
	if k.IsState() {
		return ""
	}
	switch k {
	case model.KindCameraRetention:
		return "天"
	case model.KindTemperature:
		return "℃"
	}
	return k.Unit()
}

// readingText writes a state as words and a number with its unit.
func readingText(k model.Kind, v float64) string {
	on := v >= 0.5
	switch k {
	case model.KindDoor, model.KindWindow:
		return map[bool]string{true: "开", false: "关"}[on]
	case model.KindCameraOnline, model.KindDeviceOnline:
		return map[bool]string{true: "在线", false: "离线"}[on]
	case model.KindCameraRecording:
		return map[bool]string{true: "录像中", false: "未录像"}[on]
	case model.KindSmoke, model.KindGas:
		return map[bool]string{true: "报警", false: "正常"}[on]
	}
	return formatNum(v)
}

// bandText is "22–28", "≤ 1000" or "≥ 16".
func bandText(b rules.Band) string {
	switch {
	case b.HasMin() && b.HasMax():
		return formatNum(b.Min) + "–" + formatNum(b.Max)
	case b.HasMax():
		return "≤ " + formatNum(b.Max)
	case b.HasMin():
		return "≥ " + formatNum(b.Min)
	}
	return ""
}

// silenceBounds is whether p may set long silences and the longest in
// hours it may set.
func (c *Console) silenceBounds(p access.Principal) (bool, int) {
	pol := c.kit.Silences
	long := false
	switch p.Role {
	case access.RoleCounty, access.RoleCity, access.RoleProvince, access.RoleAdmin:
		long = true
	}
	if long {
		return true, int(pol.MaxLength / time.Hour)
	}
	return false, int(pol.LongSilence / time.Hour)
}

// alertsOf lists the alerts of a scope from their owners; for shards
// that did not answer it adds the open alerts of the last week from the
// record. Only facilities p may view are kept, whatever an owner sent.
func (c *Console) alertsOf(r *http.Request, p access.Principal, s Scope, now time.Time) ([]alertRow, []int, error) {
	live, missing, err := c.backend.Alerts(r.Context(), s, actor(p))
	if err != nil {
		return nil, nil, err
	}
	var out []alertRow
	snap := c.reg.Snapshot()
	keep := func(a model.AlertView, fromRecord bool) {
		f := snap.Facility(a.Facility)
		if f == nil || access.Authorize(p, access.ActionView, access.ForFacility(f.ID, f.Region)) != nil {
			return
		}
		out = append(out, alertRow{AlertView: a, FacilityName: f.Name, RoomName: c.roomName(f, a.Room), FromRecord: fromRecord})
	}
	for _, a := range live {
		keep(a, false)
	}
	if len(missing) > 0 {
		c.m.fallbacks.Inc()
		rec, err := c.rec.recordedAlerts(r.Context(), s, now.Add(-7*24*time.Hour), now.Add(time.Minute))
		if err != nil {
			return nil, nil, err
		}
		for _, a := range rec {
			if slices.Contains(missing, model.ShardOf(a.Facility, c.backend.Shards())) {
				keep(a, true)
			}
		}
	}
	sortAlerts(out)
	return out, missing, nil
}

// sortAlerts: unacknowledged firing alerts first, longest waiting first;
// then acknowledged, pending and resolved, newest first. Alerts fired at
// the same instant (one batch) go by facility and fingerprint, not in the
// order the owners' answers happened to list them.
func sortAlerts(as []alertRow) {
	rank := map[string]int{"firing": 0, "acknowledged": 1, "pending": 2, "resolved": 3}
	sort.SliceStable(as, func(i, j int) bool {
		a, b := as[i], as[j]
		switch {
		case rank[a.State] != rank[b.State]:
			return rank[a.State] < rank[b.State]
		case !a.FiredAt.Equal(b.FiredAt) && a.State == "firing":
			return a.FiredAt.Before(b.FiredAt)
		case !a.FiredAt.Equal(b.FiredAt):
			return a.FiredAt.After(b.FiredAt)
		case a.Facility != b.Facility:
			return a.Facility < b.Facility
		}
		return a.Fingerprint < b.Fingerprint
	})
}

type alertData struct {
	F        *registry.Facility
	A        alertRow
	CanAck   bool
	CanAct   bool
	LongOK   bool
	MaxHours int
	Done     string
}

// alertPage is one alert with its history, from its owner (from the
// record when the owner does not answer).
func (c *Console) alertPage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	c.showAlert(w, r, p, http.StatusOK, "")
}

func (c *Console) showAlert(w http.ResponseWriter, r *http.Request, p access.Principal, status int, errText string) {
	f := c.facilityFor(r, p, r.PathValue("facility"), access.ActionView)
	fp := r.PathValue("fp")
	if f == nil || !isFingerprint(fp) {
		c.notFound(w, r, &p, "alert")
		return
	}
	now := c.now()
	a, err := c.backend.Alert(r.Context(), f.ID, fp, actor(p))
	row := alertRow{AlertView: a, FacilityName: f.Name, RoomName: c.roomName(f, a.Room)}
	switch {
	case errors.Is(err, ErrUnavailable):
		rec, rerr := c.rec.recordedAlerts(r.Context(), Scope{Facilities: []string{f.ID}}, now.Add(-30*24*time.Hour), now.Add(time.Minute))
		if rerr != nil {
			c.unavailable(w, r, rerr)
			return
		}
		found := false
		for _, x := range rec {
			if x.Fingerprint == fp {
				row, found = alertRow{AlertView: x, FacilityName: f.Name, RoomName: c.roomName(f, x.Room), FromRecord: true}, true
			}
		}
		if !found {
			c.notFound(w, r, &p, "alert")
			return
		}
		c.m.fallbacks.Inc()
	case errors.Is(err, ErrNotFound):
		c.notFound(w, r, &p, "alert")
		return
	case err != nil:
		c.unavailable(w, r, err)
		return
	}
	d := alertData{F: f, A: row, Done: r.URL.Query().Get("done")}
	d.CanAct = !row.FromRecord && access.Authorize(p, access.ActionAcknowledge, access.ForFacility(f.ID, f.Region)) == nil
	d.CanAck = d.CanAct && row.State == "firing"
	d.LongOK, d.MaxHours = c.silenceBounds(p)
	c.render(w, r, status, "alert", view{Title: row.Message, Error: errText, Data: d})
}

func isFingerprint(s string) bool {
	if len(s) != 16 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// ack acknowledges an alert with a comment, at its owner.
func (c *Console) ack(w http.ResponseWriter, r *http.Request, p access.Principal) {
	f := c.facilityFor(r, p, r.PathValue("facility"), access.ActionAcknowledge)
	fp := r.PathValue("fp")
	if f == nil || !isFingerprint(fp) {
		c.count("ack", "not_found")
		c.notFound(w, r, &p, "ack")
		return
	}
	comment := strings.TrimSpace(r.PostFormValue("comment"))
	if len([]rune(comment)) > maxField {
		c.count("ack", "invalid")
		c.showAlert(w, r, p, http.StatusBadRequest, "说明过长（最多 500 字）。")
		return
	}
	if _, err := c.acknowledge(r.Context(), p, f, fp, comment, "console"); err != nil {
		c.showAlert(w, r, p, statusOf(err), actionError(err, "确认"))
		return
	}
	http.Redirect(w, r, "/f/"+f.ID+"/alerts/"+fp+"?done=ack", http.StatusSeeOther)
}

// statusOf is the status of a page that reports a failed action.
func statusOf(err error) int {
	var re *RefusedError
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.As(err, &re), errors.Is(err, access.ErrDenied), errors.Is(err, access.ErrSilenceRejected):
		return http.StatusConflict
	}
	return http.StatusOK // the page says what happened; a 5xx body would be replaced
}

// actionError is what a person reads when an action failed.
func actionError(err error, what string) string {
	var re *RefusedError
	var se *access.SilenceError
	switch {
	case errors.Is(err, ErrNotFound):
		return what + "未完成：告警已恢复或不存在。"
	case errors.Is(err, ErrUnavailable):
		return "负责该机构的告警服务未应答，未做任何更改，请稍后重试。"
	case errors.As(err, &se):
		return what + "未完成：" + silenceReason(se)
	case errors.Is(err, access.ErrDenied):
		return what + "未完成：您的角色无权执行此操作。"
	case errors.As(err, &re):
		return what + "被拒绝：" + re.Reason
	}
	return what + "未完成：系统错误，请稍后重试。"
}

func silenceReason(se *access.SilenceError) string {
	if errors.Is(se, access.ErrSilenceCap) {
		return "该机构近 30 天的静默时长已达上限，不能再静默。"
	}
	return "静默须填写原因，且时长在允许范围内。"
}

// silence adds a facility-wide silence from now, with a reason: checked
// here against the silence policy over the facility's silences (the owner
// checks again over its own history) and sent to the owner.
func (c *Console) silence(w http.ResponseWriter, r *http.Request, p access.Principal) {
	f := c.facilityFor(r, p, r.PathValue("facility"), access.ActionSilence)
	if f == nil {
		c.count("silence", "not_found")
		c.notFound(w, r, &p, "silence")
		return
	}
	back := authnLocalBack(r.PostFormValue("back"), "/f/"+f.ID)
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	hours, err := strconv.ParseFloat(r.PostFormValue("hours"), 64)
	if err != nil || hours <= 0 || hours > 24*366 || len([]rune(reason)) > maxField {
		c.count("silence", "invalid")
		c.badRequest(w, r, "请填写静默时长（小时）和原因。")
		return
	}
	now := c.now()
	req := access.SilenceRequest{Facility: f.ID, Region: f.Region, Start: now, End: now.Add(time.Duration(hours * float64(time.Hour))), Reason: reason}
	if _, err := c.addSilence(r.Context(), p, f, req, "console"); err != nil {
		c.message(w, r, &p, statusOf(err), "静默未设置", actionError(err, "静默"))
		return
	}
	http.Redirect(w, r, back+"?done=silence", http.StatusSeeOther)
}

// unsilence ends a silence early.
func (c *Console) unsilence(w http.ResponseWriter, r *http.Request, p access.Principal) {
	f := c.facilityFor(r, p, r.PathValue("facility"), access.ActionSilence)
	id := r.PathValue("id")
	if f == nil || model.ValidateID("silence", id) != nil {
		c.count("unsilence", "not_found")
		c.notFound(w, r, &p, "unsilence")
		return
	}
	if _, err := c.endSilence(r.Context(), p, f, id, "console"); err != nil {
		c.message(w, r, &p, statusOf(err), "静默未结束", actionError(err, "结束静默"))
		return
	}
	http.Redirect(w, r, "/f/"+f.ID+"?done=unsilence", http.StatusSeeOther)
}

// authnLocalBack keeps a form's return address on this site, else def.
func authnLocalBack(p, def string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n?#") {
		return def
	}
	return p
}
