package console

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/cradlewatch/cradlewatch/console/spot"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/regulator/report"
)

// monthFigures is one month of a facility's public record.
type monthFigures struct {
	Month                        string
	Env, Data, Cameras           float64
	EnvOK, DataOK, CamerasOK     bool
	Raised, Acknowledged, InTime int
}

type coverage struct {
	Rooms    int
	Kinds    []string // kinds monitored (names)
	Cameras  int
	Gateways int
}

type publicResult struct {
	InspectedOn string // month only: YYYY-MM
	Outcome     string
	Findings    string
}

type publicData struct {
	Sections map[string]bool
	Name     string
	// Registration is the filing number (备案编号) of the facility file's
	// facility.registration, or the facility ID when it has none;
	// RegisteredOn its date (YYYY-MM-DD), "" when not given.
	Registration  string
	RegisteredOn  string
	Street        string
	Since         string // YYYY-MM
	Coverage      coverage
	Months        []monthFigures
	HandledWithin string
	Results       []publicResult
}

// publicFacility is a facility's disclosure page (信息公示), no login:
// registration facts, monitoring coverage, monthly compliance figures and
// safety alerts raised and handled in time, and published spot-check
// results, as the region's configuration allows (disclosure.regions).
// Never a video frame, a person's name or phone number, or anything finer
// than a month.
func (c *Console) publicFacility(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	f := c.reg.Snapshot().Facility(r.PathValue("facility"))
	if f == nil {
		c.notFound(w, r, nil, "public")
		return
	}
	secs := c.cfg.Disclosure.SectionsFor(f.Region)
	if len(secs) == 0 {
		c.notFound(w, r, nil, "public")
		return
	}
	d := publicData{Sections: map[string]bool{}, Name: f.Name, Registration: f.ID, Street: c.regionName(f.Region),
		HandledWithin: formatDuration(c.cfg.Disclosure.HandledWithin)}
	if reg := f.Registration; reg.Number != "" {
		d.Registration, d.RegisteredOn = reg.Number, reg.Date
	}
	for _, s := range secs {
		d.Sections[s] = true
	}
	ctx, loc := r.Context(), zone
	now := c.now().In(loc)
	thisMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	from := thisMonth.AddDate(0, -c.cfg.Disclosure.Months, 0)
	var err error
	if d.Sections[SectionRegistration] {
		if d.Since, err = c.rec.firstMonth(ctx, f.ID, loc); err != nil {
			c.unavailable(w, r, err)
			return
		}
	}
	if d.Sections[SectionCoverage] {
		d.Coverage = coverageOf(f.Rooms, f.Devices, f.Gateways)
	}
	if d.Sections[SectionCompliance] || d.Sections[SectionAlerts] {
		totals, err := c.rec.monthlyCompliance(ctx, f.ID, from, thisMonth, loc)
		if err != nil {
			c.unavailable(w, r, err)
			return
		}
		alerts, err := c.rec.monthlyAlerts(ctx, f.ID, from, thisMonth, loc, c.cfg.Disclosure.HandledWithin)
		if err != nil {
			c.unavailable(w, r, err)
			return
		}
		for m := thisMonth.AddDate(0, -1, 0); !m.Before(from); m = m.AddDate(0, -1, 0) {
			key := m.Format("2006-01")
			t := totals[key]
			if t == nil {
				t = report.Totals{}
			}
			mf := monthFigures{Month: key}
			mf.Env, mf.EnvOK = t.EnvRatio()
			mf.Data, mf.DataOK = t.Ratio(model.FieldDataMinutes, model.FieldOpenMinutes)
			mf.Cameras, mf.CamerasOK = t.Ratio(model.FieldCameraOnlineMinutes, model.FieldCameraMinutes)
			a := alerts[key]
			mf.Raised, mf.Acknowledged, mf.InTime = a.Raised, a.Acknowledged, a.InTime
			d.Months = append(d.Months, mf)
		}
	}
	if d.Sections[SectionInspections] {
		res, err := c.spots.PublishedResults(ctx, f.ID)
		if err != nil {
			c.unavailable(w, r, err)
			return
		}
		for _, x := range res {
			d.Results = append(d.Results, publicResult{InspectedOn: monthOf(x.InspectedOn), Outcome: x.Outcome, Findings: x.Findings})
		}
	}
	c.render(w, r, http.StatusOK, "public_facility", view{Title: f.Name + " 信息公示", Data: d})
}

// coverageOf counts what a facility monitors: rooms with devices, the
// kinds measured, cameras (a count, never a stream) and gateways.
func coverageOf(rooms []model.Room, devices []model.Device, gateways []string) coverage {
	var cv coverage
	roomsWith := map[string]bool{}
	kinds := map[model.Kind]bool{}
	for _, d := range devices {
		if d.Room != "" {
			roomsWith[d.Room] = true
		}
		for _, k := range d.Kinds {
			kinds[k] = true
		}
		if slices.Contains(d.Kinds, model.KindCameraOnline) {
			cv.Cameras++
		}
	}
	cv.Rooms = len(roomsWith)
	for _, k := range shownKinds {
		if kinds[k] && k != model.KindCameraRecording && k != model.KindCameraRetention {
			cv.Kinds = append(cv.Kinds, kindLabels[k])
		}
	}
	cv.Gateways = len(gateways)
	return cv
}

func monthOf(day string) string {
	if len(day) >= 7 {
		return day[:7]
	}
	return day
}

func formatDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return formatNum(d.Hours()) + " 小时"
	default:
		return formatNum(d.Minutes()) + " 分钟"
	}
}

type publicDrawRow struct {
	ID, County, Period string
	DrawnAt            time.Time
	Selected           int
	Results            int
}

// publicDraws lists the published spot-check draws (双随机、一公开).
func (c *Console) publicDraws(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	rows, err := c.spots.Draws(r.Context(), "", true)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	var out []publicDrawRow
	for _, d := range rows {
		var doc spot.Draw
		if json.Unmarshal(d.Document, &doc) != nil {
			continue
		}
		res, err := c.spots.Results(r.Context(), d.ID)
		if err != nil {
			c.unavailable(w, r, err)
			return
		}
		out = append(out, publicDrawRow{ID: d.ID, County: c.regionName(model.Region(d.County)), Period: d.Period, DrawnAt: d.DrawnAt,
			Selected: len(doc.Selected), Results: len(res)})
	}
	c.render(w, r, http.StatusOK, "public_spot", view{Title: "双随机、一公开 抽查公示", Data: out})
}

// publicDraw is one published draw: its method, seed and selection, the
// inspectors drawn (their published ID and name, as an inspection by law
// enforcement is published), and the results entered so far.
func (c *Console) publicDraw(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	d, doc, ok := c.publishedDraw(w, r)
	if !ok {
		return
	}
	res, err := c.spots.Results(r.Context(), d.ID)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "public_draw", view{Title: "抽查公示 " + d.Period, Data: c.drawView(d, doc, res, nil)})
}

// publicDrawJSON is the draw's published document, to reproduce it.
func (c *Console) publicDrawJSON(w http.ResponseWriter, r *http.Request) {
	d, _, ok := c.publishedDraw(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="draw-`+d.ID+`.json"`)
	w.Write(d.Document)
}

func (c *Console) publishedDraw(w http.ResponseWriter, r *http.Request) (spot.DrawRow, spot.Draw, bool) {
	d, err := c.spots.Draw(r.Context(), r.PathValue("id"))
	var doc spot.Draw
	if err != nil || d.PublishedAt.IsZero() || json.Unmarshal(d.Document, &doc) != nil {
		if err != nil && err != spot.ErrNotFound {
			c.unavailable(w, r, err)
			return d, doc, false
		}
		c.notFound(w, r, nil, "draw")
		return d, doc, false
	}
	return d, doc, true
}
