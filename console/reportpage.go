package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/regulator/compliance"
	"github.com/cradlewatch/cradlewatch/regulator/report"
)

// reportPage serves the monthly compliance report of a region
// (regulator/report, the page cwreport writes) for ?month=YYYY-MM (the
// last whole month by default) and ?region= (the person's own by default;
// a street, county, city or province inside it).
func (c *Console) reportPage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	q := r.URL.Query()
	code := q.Get("region")
	if code == "" {
		code = p.Region.String()
	}
	rc, err := model.ParseRegionCode(code)
	if err != nil || rc.Level() == model.LevelCountry || access.Authorize(p, access.ActionView, access.ForRegion(rc)) != nil {
		c.notFound(w, r, &p, "report")
		return
	}
	now := c.now().In(zone)
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, zone).AddDate(0, -1, 0)
	if m := q.Get("month"); m != "" {
		t, err := time.ParseInLocation("2006-01", m, zone)
		if err != nil {
			c.badRequest(w, r, "月份格式应为 2026-05。")
			return
		}
		month = t
	}
	rep, err := report.Build(r.Context(), c.rec.q, c.rules, rc.String(), month, zone)
	var re *report.RegionError
	if errors.As(err, &re) {
		c.notFound(w, r, &p, "report")
		return
	}
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		c.unavailable(w, r, err)
		return
	}
	// The report is a self-contained page with its own <style>: allow
	// exactly that style by its hash, nothing else inline.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src "+styleHashes(b.String())+
		"; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

// styleHashes is the CSP source list of every <style> element's hash.
func styleHashes(page string) string {
	var out []string
	for rest := page; ; {
		i := strings.Index(rest, "<style>")
		if i < 0 {
			break
		}
		rest = rest[i+len("<style>"):]
		j := strings.Index(rest, "</style>")
		if j < 0 {
			break
		}
		sum := sha256.Sum256([]byte(rest[:j]))
		out = append(out, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
		rest = rest[j:]
	}
	if len(out) == 0 {
		return "'none'"
	}
	return strings.Join(out, " ")
}

type chartData struct {
	FacilityID, FacilityName, RoomID, RoomName string
	Kind, Range                                string
	Kinds                                      []string
	Ranges                                     []string
	SVG                                        template.HTML
	Points                                     int
}

// chartRanges are the spans a chart offers, with their bucket.
var chartRanges = map[string]struct{ span, every time.Duration }{
	"6h": {6 * time.Hour, 5 * time.Minute}, "24h": {24 * time.Hour, 15 * time.Minute},
	"7d": {7 * 24 * time.Hour, time.Hour}, "30d": {30 * 24 * time.Hour, 4 * time.Hour},
}

// chartPage draws a room's readings of one kind against the rule set's
// limits at each moment (season, opening hours), server-rendered SVG.
func (c *Console) chartPage(w http.ResponseWriter, r *http.Request, p access.Principal) {
	f := c.facilityFor(r, p, r.PathValue("facility"), access.ActionView)
	room := r.PathValue("room")
	if f == nil {
		c.notFound(w, r, &p, "chart")
		return
	}
	if _, ok := f.Room(room); !ok {
		c.notFound(w, r, &p, "chart")
		return
	}
	var kinds []string
	has := map[string]bool{}
	for _, d := range f.Devices {
		if d.Room != room {
			continue
		}
		for _, k := range d.Kinds {
			if !k.IsState() && !has[k.String()] && kindLabels[k] != "" && k != model.KindBattery && k != model.KindLinkQuality {
				has[k.String()] = true
				kinds = append(kinds, k.String())
			}
		}
	}
	q := r.URL.Query()
	kind, rng := q.Get("kind"), q.Get("range")
	if kind == "" && len(kinds) > 0 {
		kind = kinds[0]
	}
	if rng == "" {
		rng = "24h"
	}
	spec, okRange := chartRanges[rng]
	k, err := model.ParseKind(kind)
	if err != nil || !has[kind] || !okRange {
		c.badRequest(w, r, "没有这个指标或时间范围。")
		return
	}
	now := c.now()
	from := now.Add(-spec.span).Truncate(spec.every)
	pts, err := c.rec.roomSeries(r.Context(), f.ID, room, k, from, now, spec.every)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	cal, err := compliance.Calendar(c.rules, f)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	lim, err := c.rules.RoomLimits(f.ID, room, f.RoomType(room), cal)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	svg := roomChart(kindLabel(kind)+"（"+unitOf(k)+"）", pts, from, now, spec.every, func(t time.Time) (float64, float64, bool) {
		b, judged := lim.At(k, t)
		return b.Min, b.Max, judged
	})
	d := chartData{FacilityID: f.ID, FacilityName: f.Name, RoomID: room, RoomName: c.roomName(f, room), Kind: kind, Range: rng,
		Kinds: kinds, Ranges: []string{"6h", "24h", "7d", "30d"}, SVG: svg, Points: len(pts)}
	c.render(w, r, http.StatusOK, "chart", view{Title: fmt.Sprintf("%s %s", d.RoomName, kindLabel(kind)), Data: d})
}
