package console

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/console/spot"
	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/regulator/report"
)

// riskRecords fills the spot-check record of every registered facility
// of a county over [from, to) (docs/console.md, "Risk"): alerts from
// alert_event (warning and critical), shares from compliance_hourly, the
// last inspection from the console's results.
func (c *Console) riskRecords(ctx context.Context, county model.RegionCode, from, to time.Time) ([]spot.Record, error) {
	var ids []string
	for _, f := range c.reg.Snapshot().Facilities() {
		if county.Contains(f.Region) {
			ids = append(ids, f.ID)
		}
	}
	sort.Strings(ids)
	where := scopeWhere(Scope{Region: county})
	series, err := c.rec.q.Query(ctx, fmt.Sprintf(`SELECT sum(*) FROM %q WHERE %s AND %s GROUP BY %q`,
		model.MeasurementComplianceHourly, where, influxql.TimeRange(from, to), model.TagFacility))
	if err != nil {
		return nil, err
	}
	totals := map[string]report.Totals{}
	for _, s := range series {
		t := report.Totals{}
		for _, row := range s.Values {
			for i, col := range s.Columns {
				if v, ok := influxql.Float(row[i]); ok && i > 0 {
					t[strings.TrimPrefix(col, "sum_")] += v
				}
			}
		}
		totals[s.Tags[model.TagFacility]] = t
	}
	series, err = c.rec.q.Query(ctx, fmt.Sprintf(`SELECT %q, %q, %q, %q FROM %q WHERE %s AND %q != 'info' AND %s GROUP BY %q`,
		model.FieldFingerprint, model.TagState, model.TagRule, model.TagRoom, model.MeasurementAlertEvent, where, model.TagSeverity,
		influxql.TimeRange(from, to), model.TagFacility))
	if err != nil {
		return nil, err
	}
	type counts struct{ unacked, repeated int }
	alerts := map[string]counts{}
	for _, s := range series {
		fpI, stI, ruleI, roomI := s.Column(model.FieldFingerprint), s.Column(model.TagState), s.Column(model.TagRule), s.Column(model.TagRoom)
		str := func(row []any, i int) string {
			if i < 0 || i >= len(row) {
				return ""
			}
			v, _ := row[i].(string)
			return v
		}
		open := map[string]bool{} // fingerprint → firing and not acknowledged
		firings := map[string]int{}
		var n counts
		for _, row := range s.Values { // time order
			fp := str(row, fpI)
			switch str(row, stI) {
			case "firing":
				if open[fp] {
					n.unacked++ // fired again without an acknowledgement in between
				}
				open[fp] = true
				firings[str(row, ruleI)+"\x00"+str(row, roomI)]++
			case "acknowledged":
				open[fp] = false
			case "resolved":
				if open[fp] {
					n.unacked++
				}
				open[fp] = false
			}
		}
		for _, o := range open {
			if o {
				n.unacked++
			}
		}
		for _, k := range firings {
			n.repeated += max(k-1, 0)
		}
		alerts[s.Tags[model.TagFacility]] = n
	}
	last, err := c.spots.LastInspections(ctx, county.String())
	if err != nil {
		return nil, err
	}
	var out []spot.Record
	for _, id := range ids {
		t := totals[id]
		if t == nil {
			t = report.Totals{}
		}
		r := spot.Record{Facility: id, UnacknowledgedAlerts: alerts[id].unacked, RepeatedAlerts: alerts[id].repeated}
		if env, ok := t.EnvRatio(); ok {
			r.OutOfLimitsShare = share(1 - env/100)
		}
		if t[model.FieldCameraMinutes] > 0 {
			seen := math.Min(t[model.FieldCameraOnlineMinutes], t[model.FieldCameraRecordingMinutes])
			r.CameraGapShare = share(1 - seen/t[model.FieldCameraMinutes])
		}
		if data, ok := t.Ratio(model.FieldDataMinutes, model.FieldOpenMinutes); ok {
			r.GatewayGapShare = share(1 - data/100)
		}
		if day, ok := last[id]; ok {
			if d, err := time.ParseInLocation("2006-01-02", day, zone); err == nil {
				r.DaysSinceInspection = max(int(to.Sub(d).Hours()/24), 0)
			}
		} else {
			r.NeverInspected = true
		}
		out = append(out, r)
	}
	return out, nil
}

// share rounds to four decimals within 0..1, so a published record reads
// cleanly and floating noise never leaves the range.
func share(v float64) float64 {
	return math.Max(0, math.Min(1, math.Round(v*1e4)/1e4))
}
