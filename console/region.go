package console

import (
	"net/http"
	"sort"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// facilityRow is one facility of a region's overview.
type facilityRow struct {
	F              *registry.Facility
	Street         string
	Gateway        gatewayState
	Critical       int // open alerts by severity
	Warning        int
	Info           int
	Unacknowledged int
	OldestUnacked  time.Time // fired_at of the longest unacknowledged alert
}

type homeData struct {
	Region     string
	Facilities []facilityRow
	Online     int
	Missing    []int
	Spot       bool // the person draws spot checks (a county)
	Report     bool
}

// home is the overview of the facilities in the person's scope: online
// or not, open alerts by severity, those with unacknowledged alerts first,
// longest waiting first. An operator with one facility goes straight to it.
func (c *Console) home(w http.ResponseWriter, r *http.Request, p access.Principal) {
	facs := c.visible(p)
	if p.Role == access.RoleOperator && len(facs) == 1 {
		http.Redirect(w, r, "/f/"+facs[0].ID, http.StatusSeeOther)
		return
	}
	now := c.now()
	s := scopeOf(p)
	gws, err := c.rec.gateways(r.Context(), s, now, c.cfg.StaleAfter)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	alerts, missing, err := c.alertsOf(r, p, s, now)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	rows := map[string]*facilityRow{}
	d := homeData{Missing: missing, Spot: p.Role == access.RoleCounty || p.Role == access.RoleAdmin,
		Report: p.Role != access.RoleOperator && p.Region.Level() != model.LevelCountry}
	if p.Role != access.RoleOperator {
		d.Region = c.regionName(model.Region(p.Region.String()))
	}
	for _, f := range facs {
		rows[f.ID] = &facilityRow{F: f, Street: c.regionName(f.Region), Gateway: gws[f.ID]}
		if gws[f.ID].Online {
			d.Online++
		}
	}
	for _, a := range alerts {
		row := rows[a.Facility]
		if row == nil || a.State == "resolved" || a.State == "pending" {
			continue
		}
		switch a.Severity {
		case "critical":
			row.Critical++
		case "warning":
			row.Warning++
		default:
			row.Info++
		}
		if a.State == "firing" {
			row.Unacknowledged++
			if row.OldestUnacked.IsZero() || a.FiredAt.Before(row.OldestUnacked) {
				row.OldestUnacked = a.FiredAt
			}
		}
	}
	for _, f := range facs {
		d.Facilities = append(d.Facilities, *rows[f.ID])
	}
	sort.SliceStable(d.Facilities, func(i, j int) bool {
		a, b := d.Facilities[i], d.Facilities[j]
		switch {
		case a.Unacknowledged > 0 != (b.Unacknowledged > 0):
			return a.Unacknowledged > 0
		case a.Unacknowledged > 0:
			return a.OldestUnacked.Before(b.OldestUnacked)
		case a.Gateway.Online != b.Gateway.Online:
			return !a.Gateway.Online
		}
		return a.F.ID < b.F.ID
	})
	c.render(w, r, http.StatusOK, "home", view{Title: "机构总览", Data: d})
}

type alertListData struct {
	Alerts                              []alertRow
	Missing                             []int
	State, Severity, Facility, From, To string
	Facilities                          []*registry.Facility
}

// alertList is the alerts of the person's scope with filters: state
// (open by default), severity, facility and a time window (days, in the
// console's time zone). Alerts come from their owners, and from the
// record in InfluxDB for the window (resolved episodes, owners that do not
// answer); the owner's view wins where both know an episode.
func (c *Console) alertList(w http.ResponseWriter, r *http.Request, p access.Principal) {
	q := r.URL.Query()
	now := c.now()
	d := alertListData{State: q.Get("state"), Severity: q.Get("severity"), Facility: q.Get("facility"), From: q.Get("from"), To: q.Get("to"),
		Facilities: c.visible(p)}
	if d.State == "" {
		d.State = "open"
	}
	from, to := now.Add(-7*24*time.Hour), now.Add(time.Minute)
	if d.From != "" {
		t, err := time.ParseInLocation("2006-01-02", d.From, zone)
		if err != nil {
			c.badRequest(w, r, "起始日期格式应为 2026-06-01。")
			return
		}
		from = t
	}
	if d.To != "" {
		t, err := time.ParseInLocation("2006-01-02", d.To, zone)
		if err != nil {
			c.badRequest(w, r, "结束日期格式应为 2026-06-30。")
			return
		}
		to = t.AddDate(0, 0, 1)
	}
	if !to.After(from) || to.Sub(from) > 366*24*time.Hour {
		c.badRequest(w, r, "时间范围应在一年以内，且结束晚于开始。")
		return
	}
	s := scopeOf(p)
	if d.Facility != "" {
		f := c.facilityFor(r, p, d.Facility, access.ActionView)
		if f == nil {
			c.notFound(w, r, &p, "facility")
			return
		}
		s = Scope{Facilities: []string{f.ID}}
	}
	live, missing, err := c.alertsOf(r, p, s, now)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	d.Missing = missing
	rec, err := c.rec.recordedAlerts(r.Context(), s, from, to)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	// An episode is its fingerprint and its start to the millisecond (an
	// alarm can clear and go off again within a second).
	type key struct {
		fp string
		ms int64
	}
	seen := map[key]bool{}
	var all []alertRow
	for _, a := range live {
		seen[key{a.Fingerprint, a.FiredAt.UnixMilli()}] = true
		all = append(all, a)
	}
	snap := c.reg.Snapshot()
	for _, a := range rec {
		f := snap.Facility(a.Facility)
		if seen[key{a.Fingerprint, a.FiredAt.UnixMilli()}] || f == nil || access.Authorize(p, access.ActionView, access.ForFacility(f.ID, f.Region)) != nil {
			continue
		}
		all = append(all, alertRow{AlertView: a, FacilityName: f.Name, RoomName: c.roomName(f, a.Room), FromRecord: true})
	}
	for _, a := range all {
		switch {
		case d.State == "open" && (a.State == "resolved"),
			d.State != "open" && d.State != "all" && a.State != d.State,
			d.Severity != "" && a.Severity != d.Severity,
			a.FiredAt.Before(from) && a.State == "resolved", !a.FiredAt.Before(to):
			continue
		}
		d.Alerts = append(d.Alerts, a)
	}
	sortAlerts(d.Alerts)
	c.render(w, r, http.StatusOK, "alerts", view{Title: "告警列表", Data: d})
}
