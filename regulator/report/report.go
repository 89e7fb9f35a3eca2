// Package report builds the monthly compliance report of a region and its
// facilities from compliance_hourly: a CSV for spreadsheets and a
// self-contained, printable HTML page in Chinese with inline SVG charts (no
// scripts, no fonts or styles from the internet: regulators print it or
// archive it offline).
package report

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/regulator/compliance"
)

// Querier runs an InfluxQL statement; *influxql.Client is one.
type Querier interface {
	Query(ctx context.Context, q string) ([]influxql.Series, error)
}

// Totals are summed compliance_hourly fields.
type Totals map[string]float64

func (t Totals) add(o Totals) {
	for k, v := range o {
		t[k] += v
	}
}

// Ratio returns 100*num/den, and ok false when den is zero (no opening
// minutes, no cameras): "no data" must not print as 0 % or 100 %.
func (t Totals) Ratio(num, den string) (float64, bool) {
	if t[den] == 0 {
		return 0, false
	}
	return 100 * t[num] / t[den], true
}

// EnvRatio is the share of room-minutes with all five kinds counted together.
func (t Totals) EnvRatio() (float64, bool) {
	var ok, all float64
	for _, k := range model.ComplianceKinds {
		ok += t[model.ComplianceOKField(k)]
		all += t[model.ComplianceMinutesField(k)]
	}
	if all == 0 {
		return 0, false
	}
	return 100 * ok / all, true
}

// Day is one calendar day (in the report's time zone) of totals.
type Day struct {
	Date   time.Time
	Totals Totals
}

// Facility is one facility's month.
type Facility struct {
	Facility compliance.Facility
	Totals   Totals
	Days     []Day
}

// Report is a region's month.
type Report struct {
	Region     string // the code asked for
	Level      string // province, city, county or street
	Limits     string // how limits were judged, from the rule set (LimitsText)
	Month      time.Time
	Totals     Totals
	Days       []Day
	Facilities []Facility
}

// RegionError reports a region code that is not 6 or 9 digits.
type RegionError struct{ Code string }

func (e *RegionError) Error() string {
	return fmt.Sprintf("report: region %q must be a 6-digit division code (province, city or county) or a 9-digit street code", e.Code)
}

// Level is the tag of a region code's level (province, city, county,
// street), by model.RegionCode.
func Level(code string) (string, error) {
	c, err := model.ParseRegionCode(code)
	if err != nil {
		return "", &RegionError{code}
	}
	return c.Level().String(), nil
}

var tagColumns = map[string]bool{model.TagProvince: true, model.TagCity: true, model.TagCounty: true, model.TagStreet: true, model.TagFacility: true}

// Build reads compliance_hourly for the month (its first day at midnight
// in loc) and region (a 6-digit division code or a 9-digit street code);
// rs is the rule set the rollup judged by, whose limits the report states.
func Build(ctx context.Context, q Querier, rs *rules.RuleSet, region string, month time.Time, loc *time.Location) (*Report, error) {
	code, err := model.ParseRegionCode(region)
	if err != nil {
		return nil, &RegionError{region}
	}
	tag, value, _ := code.Tag() // a parsed code is a province, city, county or street
	from := time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, loc)
	to := from.AddDate(0, 1, 0)
	series, err := q.Query(ctx, fmt.Sprintf(`SELECT * FROM %q WHERE %q = %s AND %s`,
		model.MeasurementComplianceHourly, tag, influxql.Literal(value), influxql.TimeRange(from, to)))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	days := int(to.Sub(from).Hours()/24 + 0.5) // 23- and 25-hour days do not occur in China, but round anyway
	rep := &Report{Region: region, Level: tag, Limits: LimitsText(rs), Month: from, Totals: Totals{}, Days: newDays(from, days)}
	byID := map[string]*Facility{}
	for _, s := range series {
		for _, row := range s.Values {
			f := compliance.Facility{}
			hour := Totals{}
			var at time.Time
			for i, col := range s.Columns {
				switch {
				case col == "time": // the column InfluxQL names the timestamp
					at = influxql.Time(row[i]).In(loc)
				case tagColumns[col]:
					v, _ := row[i].(string)
					f.SetTag(col, v)
				default:
					if v, ok := influxql.Float(row[i]); ok {
						hour[col] = v
					}
				}
			}
			fr := byID[f.ID]
			if fr == nil {
				fr = &Facility{Facility: f, Totals: Totals{}, Days: newDays(from, days)}
				byID[f.ID] = fr
			}
			d := dayIndex(from, at)
			if d < 0 || d >= days {
				continue
			}
			fr.Totals.add(hour)
			fr.Days[d].Totals.add(hour)
			rep.Totals.add(hour)
			rep.Days[d].Totals.add(hour)
		}
	}
	for _, f := range byID {
		rep.Facilities = append(rep.Facilities, *f)
	}
	sort.Slice(rep.Facilities, func(i, j int) bool { return rep.Facilities[i].Facility.ID < rep.Facilities[j].Facility.ID })
	return rep, nil
}

func newDays(from time.Time, n int) []Day {
	out := make([]Day, n)
	for i := range out {
		out[i] = Day{Date: from.AddDate(0, 0, i), Totals: Totals{}}
	}
	return out
}

// dayIndex counts calendar days, not 24-hour spans.
func dayIndex(from, at time.Time) int {
	y, m, d := at.Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Sub(time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)).Hours() / 24)
}
