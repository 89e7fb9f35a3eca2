package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/console/spot"
	"github.com/cradlewatch/cradlewatch/model"
)

// Audit actions of spot checks.
const (
	auditSpotDraw      = "spotcheck.draw"      // detail: seed, request digest, selected
	auditSpotPublish   = "spotcheck.publish"   //
	auditSpotResult    = "spotcheck.result"    // detail: facility, inspected_on, outcome
	auditSpotInspector = "spotcheck.inspector" // detail: id, name, active
	auditSpotConflict  = "spotcheck.conflict"  // detail: inspector, facility
)

// spotCounty is the county whose spot checks p works on, and whether p may
// draw and enter results (a county for its own county, the administrator
// for any): a county's own region; others name one inside their region
// with ?county= (reading only). Zero when p has none.
func spotCounty(p access.Principal, asked string) (model.RegionCode, bool) {
	if p.Role == access.RoleCounty && (asked == "" || asked == p.Region.String()) {
		return p.Region, true
	}
	if p.Role == access.RoleOperator || p.Role == access.RoleStreet || asked == "" {
		return model.RegionCode{}, false
	}
	code, err := model.ParseRegionCode(asked)
	if err != nil || code.Level() != model.LevelCounty || access.Authorize(p, access.ActionView, access.ForRegion(code)) != nil {
		return model.RegionCode{}, false
	}
	return code, p.Role == access.RoleAdmin
}

type rankRow struct {
	spot.Ranked
	Name string
}

type spotData struct {
	County     string
	CountyName string
	CanDraw    bool
	From, To   time.Time
	Ranking    []rankRow
	Inspectors []spot.InspectorRow
	Conflicts  []spot.Conflict
	Draws      []spot.DrawRow
	Params     spot.Parameters
	Done       string
}

func (c *Console) spotPage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	county, canDraw := spotCounty(p, r.URL.Query().Get("county"))
	if county.IsZero() {
		c.notFound(w, r, &p, "spot")
		return
	}
	ctx, now := r.Context(), c.now()
	d := spotData{County: county.String(), CountyName: c.regionName(model.Region(county.String())), CanDraw: canDraw,
		To: now, From: now.AddDate(0, 0, -c.cfg.SpotCheck.PeriodDays), Params: c.cfg.SpotCheck.Parameters, Done: r.URL.Query().Get("done")}
	recs, err := c.riskRecords(ctx, county, d.From, d.To)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	ranked, err := c.drawer.Rank(recs, c.cfg.SpotCheck.Parameters)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	snap := c.reg.Snapshot()
	for _, x := range ranked {
		name := x.Facility
		if f := snap.Facility(x.Facility); f != nil {
			name = f.Name
		}
		d.Ranking = append(d.Ranking, rankRow{x, name})
	}
	if d.Inspectors, err = c.spots.Inspectors(ctx, county.String()); err == nil {
		if d.Conflicts, err = c.spots.Conflicts(ctx, county.String()); err == nil {
			d.Draws, err = c.spots.Draws(ctx, county.String(), false)
		}
	}
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "spot", view{Title: "双随机抽查 " + d.CountyName, Data: d})
}

// spotDraw draws: the county's facilities weighted by their record, a
// team of active inspectors for each, with a fresh seed. The draw (seed
// and a digest of its request) goes to the audit trail before it is
// stored or shown, so a draw nobody liked stays on the record.
func (c *Console) spotDraw(w http.ResponseWriter, r *http.Request, p access.Principal) {
	county, canDraw := spotCounty(p, r.PostFormValue("county"))
	if county.IsZero() || !canDraw {
		c.count("spot_draw", "not_found")
		c.notFound(w, r, &p, "spot")
		return
	}
	n, err1 := strconv.Atoi(r.PostFormValue("sample_size"))
	team, err2 := strconv.Atoi(r.PostFormValue("team_size"))
	period := strings.TrimSpace(r.PostFormValue("period"))
	if err1 != nil || err2 != nil || n < 1 || n > c.cfg.SpotCheck.MaxSample || team < 1 || team > 5 || len([]rune(period)) > 40 {
		c.count("spot_draw", "invalid")
		c.badRequest(w, r, "请填写抽取的机构数（1–"+strconv.Itoa(c.cfg.SpotCheck.MaxSample)+"）和每组检查人员数（1–5）。")
		return
	}
	ctx, now := r.Context(), c.now()
	recs, err := c.riskRecords(ctx, county, now.AddDate(0, 0, -c.cfg.SpotCheck.PeriodDays), now)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	ins, err := c.spots.Inspectors(ctx, county.String())
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	conflicts, err := c.spots.Conflicts(ctx, county.String())
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	req := spot.Request{County: county.String(), Period: period, SampleSize: n, InspectorsPerFacility: team,
		Parameters: c.cfg.SpotCheck.Parameters, Candidates: recs}
	for _, in := range ins {
		if in.Active {
			req.Inspectors = append(req.Inspectors, in.Inspector)
		}
	}
	for _, cf := range conflicts {
		if slices.ContainsFunc(req.Inspectors, func(i spot.Inspector) bool { return i.ID == cf.Inspector }) {
			req.Conflicts = append(req.Conflicts, cf)
		}
	}
	doc, draw, err := c.drawer.Draw(req, now)
	if errors.Is(err, spot.ErrNoCandidate) || errors.Is(err, spot.ErrNotEnoughInspectors) {
		c.count("spot_draw", "refused")
		msg := "没有可抽取的机构。"
		if errors.Is(err, spot.ErrNotEnoughInspectors) {
			msg = "检查人员不足（已计入回避），请先添加检查人员或减少每组人数。"
		}
		c.message(w, r, &p, http.StatusConflict, "未能抽取", msg)
		return
	}
	if err != nil {
		c.count("spot_draw", "error")
		c.unavailable(w, r, err)
		return
	}
	reqJSON, _ := json.Marshal(req)
	digest := sha256.Sum256(reqJSON)
	id := newDrawID(now)
	var picked []string
	for _, s := range draw.Selected {
		picked = append(picked, s.Facility)
	}
	c.audit(p, auditSpotDraw, "", model.Region(county.String()), id, map[string]any{"seed": draw.Seed, "method": draw.Method,
		"request_sha256": hex.EncodeToString(digest[:]), "selected": picked, "candidates": len(recs)})
	if err := c.spots.InsertDraw(ctx, spot.DrawRow{ID: id, County: county.String(), Period: period, DrawnAt: now, DrawnBy: p.Actor(),
		Seed: draw.Seed.String(), Document: doc}); err != nil {
		c.count("spot_draw", "error")
		c.unavailable(w, r, err)
		return
	}
	c.count("spot_draw", "ok")
	http.Redirect(w, r, "/spot/draws/"+id+"?done=draw", http.StatusSeeOther)
}

// newDrawID names a draw made at t: the facility's calendar day (a draw
// made at 01:46 in Beijing is of that day, though UTC is still on the
// day before) and 8 random bytes.
func newDrawID(t time.Time) string {
	b := make([]byte, 8)
	rand.Read(b)
	return t.In(zone).Format("20060102") + "-" + hex.EncodeToString(b)
}

// spotInspector adds an inspector to the county's list or changes one.
func (c *Console) spotInspector(w http.ResponseWriter, r *http.Request, p access.Principal) {
	county, canDraw := spotCounty(p, r.PostFormValue("county"))
	if county.IsZero() || !canDraw {
		c.count("spot_inspector", "not_found")
		c.notFound(w, r, &p, "spot")
		return
	}
	in := spot.InspectorRow{Inspector: spot.Inspector{ID: strings.TrimSpace(r.PostFormValue("id")), Name: strings.TrimSpace(r.PostFormValue("name"))},
		Active: r.PostFormValue("active") != "no"}
	if model.ValidateID("inspector", in.ID) != nil || in.Name == "" || len([]rune(in.Name)) > 40 {
		c.count("spot_inspector", "invalid")
		c.badRequest(w, r, "请填写检查人员的执法证号（字母、数字、-）和姓名。")
		return
	}
	if err := c.spots.PutInspector(r.Context(), county.String(), in, c.now()); err != nil {
		c.count("spot_inspector", "error")
		c.unavailable(w, r, err)
		return
	}
	c.count("spot_inspector", "ok")
	c.audit(p, auditSpotInspector, "", model.Region(county.String()), in.ID, map[string]any{"name": in.Name, "active": in.Active})
	http.Redirect(w, r, "/spot?county="+county.String()+"&done=inspector", http.StatusSeeOther)
}

// spotConflict records a recusal: the inspector is never sent there.
func (c *Console) spotConflict(w http.ResponseWriter, r *http.Request, p access.Principal) {
	county, canDraw := spotCounty(p, r.PostFormValue("county"))
	if county.IsZero() || !canDraw {
		c.count("spot_inspector", "not_found")
		c.notFound(w, r, &p, "spot")
		return
	}
	cf := spot.Conflict{Inspector: strings.TrimSpace(r.PostFormValue("inspector")), Facility: strings.TrimSpace(r.PostFormValue("facility"))}
	f := c.reg.Snapshot().Facility(cf.Facility)
	if model.ValidateID("inspector", cf.Inspector) != nil || f == nil || !county.Contains(f.Region) {
		c.count("spot_inspector", "invalid")
		c.badRequest(w, r, "请填写检查人员的执法证号和本区县机构的编号。")
		return
	}
	if err := c.spots.AddConflict(r.Context(), county.String(), cf); err != nil {
		c.unavailable(w, r, err)
		return
	}
	c.count("spot_inspector", "ok")
	c.audit(p, auditSpotConflict, f.ID, f.Region, cf.Inspector, map[string]any{"inspector": cf.Inspector, "facility": cf.Facility})
	http.Redirect(w, r, "/spot?county="+county.String()+"&done=conflict", http.StatusSeeOther)
}

type selectionRow struct {
	spot.Selection
	Name       string
	Inspectors []spot.Inspector
	Result     *spot.Result
}

type drawView struct {
	Row       spot.DrawRow
	Doc       spot.Draw
	County    string
	Selected  []selectionRow
	Verified  bool
	VerifyErr string
	CanEdit   bool
	Outcomes  []string
	Today     string
	Done      string
}

func (c *Console) drawView(d spot.DrawRow, doc spot.Draw, res map[string]spot.Result, p *access.Principal) drawView {
	v := drawView{Row: d, Doc: doc, County: c.regionName(model.Region(d.County)), Outcomes: spot.Outcomes,
		Today: c.now().In(zone).Format("2006-01-02")}
	if err := c.drawer.Verify(d.Document); err != nil {
		v.VerifyErr = "无法复现"
	} else {
		v.Verified = true
	}
	names := map[string]spot.Inspector{}
	for _, in := range doc.Inspectors {
		names[in.ID] = in
	}
	snap := c.reg.Snapshot()
	for _, s := range doc.Selected {
		row := selectionRow{Selection: s, Name: s.Facility}
		if f := snap.Facility(s.Facility); f != nil {
			row.Name = f.Name
		}
		for _, id := range s.Inspectors {
			row.Inspectors = append(row.Inspectors, names[id])
		}
		if x, ok := res[s.Facility]; ok {
			row.Result = &x
		}
		v.Selected = append(v.Selected, row)
	}
	return v
}

// spotDrawPage is a draw as stored, whether it reproduces from its seed,
// and its results; the county publishes it and enters results here.
func (c *Console) spotDrawPage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	d, doc, ok := c.ownDraw(w, r, p, false)
	if !ok {
		return
	}
	res, err := c.spots.Results(r.Context(), d.ID)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	v := c.drawView(d, doc, res, &p)
	_, v.CanEdit = spotCounty(p, d.County)
	v.Done = r.URL.Query().Get("done")
	c.render(w, r, http.StatusOK, "spot_draw", view{Title: "抽查 " + d.Period, Data: v})
}

// ownDraw loads a draw of a county p works on (edit: p may change it).
func (c *Console) ownDraw(w http.ResponseWriter, r *http.Request, p access.Principal, edit bool) (spot.DrawRow, spot.Draw, bool) {
	d, err := c.spots.Draw(r.Context(), r.PathValue("id"))
	var doc spot.Draw
	if err != nil && !errors.Is(err, spot.ErrNotFound) {
		c.unavailable(w, r, err)
		return d, doc, false
	}
	county, canEdit := model.RegionCode{}, false
	if err == nil {
		county, canEdit = spotCounty(p, d.County)
	}
	if err != nil || county.IsZero() || (edit && !canEdit) || json.Unmarshal(d.Document, &doc) != nil {
		c.notFound(w, r, &p, "draw")
		return d, doc, false
	}
	return d, doc, true
}

// spotPublish publishes a draw on the public page (once).
func (c *Console) spotPublish(w http.ResponseWriter, r *http.Request, p access.Principal) {
	d, _, ok := c.ownDraw(w, r, p, true)
	if !ok {
		c.count("spot_publish", "not_found")
		return
	}
	if err := c.spots.Publish(r.Context(), d.ID, p.Actor(), c.now()); err != nil {
		c.count("spot_publish", "error")
		c.unavailable(w, r, err)
		return
	}
	c.count("spot_publish", "ok")
	c.audit(p, auditSpotPublish, "", model.Region(d.County), d.ID, map[string]any{"seed": d.Seed})
	http.Redirect(w, r, "/spot/draws/"+d.ID+"?done=publish", http.StatusSeeOther)
}

// phoneLike finds a run of seven or more digits (a phone number) in
// findings, which are published.
var phoneLike = regexp.MustCompile(`\d[\d -]{5,}\d`)

// dayBefore is the start of the facility's calendar day before t: the
// earliest inspection day a draw made at t accepts (a team sent the
// evening before the draw is published). A calendar day, not 24 hours
// counted from UTC midnight.
func dayBefore(t time.Time) time.Time {
	y, m, d := t.In(zone).Date()
	return time.Date(y, m, d-1, 0, 0, 0, 0, zone)
}

// spotResult enters the result of a drawn facility's inspection. Its
// day feeds the next ranking (time since the last inspection).
func (c *Console) spotResult(w http.ResponseWriter, r *http.Request, p access.Principal) {
	d, doc, ok := c.ownDraw(w, r, p, true)
	if !ok {
		c.count("spot_result", "not_found")
		return
	}
	res := spot.Result{DrawID: d.ID, Facility: r.PostFormValue("facility"), InspectedOn: r.PostFormValue("inspected_on"),
		Outcome: r.PostFormValue("outcome"), Findings: strings.TrimSpace(r.PostFormValue("findings")), EnteredBy: p.Actor(), EnteredAt: c.now()}
	day, err := time.ParseInLocation("2006-01-02", res.InspectedOn, zone)
	switch {
	case !slices.ContainsFunc(doc.Selected, func(s spot.Selection) bool { return s.Facility == res.Facility }):
		c.count("spot_result", "invalid")
		c.badRequest(w, r, "该机构不在本次抽查中。")
		return
	case err != nil || day.Before(dayBefore(d.DrawnAt)) || day.After(c.now()):
		c.count("spot_result", "invalid")
		c.badRequest(w, r, "检查日期应在抽取之后、今天之前（格式 2026-06-15）。")
		return
	case !slices.Contains(spot.Outcomes, res.Outcome):
		c.count("spot_result", "invalid")
		c.badRequest(w, r, "请选择检查结果。")
		return
	case len([]rune(res.Findings)) > maxField || phoneLike.MatchString(res.Findings):
		c.count("spot_result", "invalid")
		c.badRequest(w, r, "检查情况最多 500 字，且不得包含电话号码等个人信息（将公开）。")
		return
	}
	if err := c.spots.PutResult(r.Context(), res); err != nil {
		c.count("spot_result", "error")
		c.unavailable(w, r, err)
		return
	}
	c.count("spot_result", "ok")
	f := c.reg.Snapshot().Facility(res.Facility)
	region := model.Region(d.County)
	if f != nil {
		region = f.Region
	}
	c.audit(p, auditSpotResult, res.Facility, region, d.ID, map[string]any{"inspected_on": res.InspectedOn, "outcome": res.Outcome})
	http.Redirect(w, r, "/spot/draws/"+d.ID+"?done=result", http.StatusSeeOther)
}
