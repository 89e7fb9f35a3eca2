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

	"github.com/cradlewatch/cradlewatch/internal/influxql"
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
	for _, k := range compliance.EnvKinds {
		ok += t[compliance.OKField(k)]
		all += t[compliance.MinutesField(k)]
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

// Level maps a region code to its tag: 9 digits street; 6 digits ending in
// 0000 province, in 00 city, else county (GB/T 2260).
func Level(code string) (string, error) {
	for _, c := range code {
		if c < '0' || c > '9' {
			return "", &RegionError{code}
		}
	}
	switch {
	case len(code) == 9:
		return "street", nil
	case len(code) != 6:
		return "", &RegionError{code}
	case code[2:] == "0000":
		return "province", nil
	case code[4:] == "00":
		return "city", nil
	}
	return "county", nil
}

var tagColumns = map[string]bool{"province": true, "city": true, "county": true, "street": true, "facility": true}

// Build reads compliance_hourly for the month (its first day at midnight
// in loc) and region.
func Build(ctx context.Context, q Querier, region string, month time.Time, loc *time.Location) (*Report, error) {
	level, err := Level(region)
	if err != nil {
		return nil, err
	}
	from := time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, loc)
	to := from.AddDate(0, 1, 0)
	series, err := q.Query(ctx, fmt.Sprintf(`SELECT * FROM %q WHERE %q = %s AND %s`,
		compliance.Measurement, level, influxql.Literal(region), influxql.TimeRange(from, to)))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	days := int(to.Sub(from).Hours()/24 + 0.5) // 23- and 25-hour days do not occur in China, but round anyway
	rep := &Report{Region: region, Level: level, Month: from, Totals: Totals{}, Days: newDays(from, days)}
	byID := map[string]*Facility{}
	for _, s := range series {
		for _, row := range s.Values {
			f := compliance.Facility{}
			hour := Totals{}
			var at time.Time
			for i, col := range s.Columns {
				switch {
				case col == "time":
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
