package calendar

import (
	"time"
)

// DefaultZone is the time zone of a facility that configures none.
const DefaultZone = "Asia/Shanghai"

// DayKind says why a day is open or closed.
type DayKind uint8

// Kinds of day.
const (
	Workday DayKind = iota // Monday to Friday, not a holiday
	Weekend                // Saturday or Sunday, not a make-up working day
	Holiday                // public holiday: closed whatever the weekday
	MakeUp                 // make-up working day (调休): opens with work-day hours
)

// String names the kind of day.
func (k DayKind) String() string {
	return [...]string{"workday", "weekend", "holiday", "makeup"}[k]
}

// Config describes one facility's calendar.
type Config struct {
	Location *time.Location // nil means DefaultZone
	Hours    Hours          // opening spans per weekday
	// MakeUpHours are the spans of a make-up working day. Empty means the
	// hours of the first weekday (Monday to Friday) that has any: 调休 turns
	// a weekend day into an ordinary work day.
	MakeUpHours []Span
	Holidays    *Holidays   // nil: no holidays known
	Season      SeasonDates // the facility region's season dates
}

// Calendar is one facility's calendar. It is immutable.
type Calendar struct {
	loc    *time.Location
	hours  Hours
	makeUp []Span
	hol    *Holidays
	season SeasonDates
}

// New builds a calendar. It fails only when the default zone is missing from
// the system's time zone database.
func New(c Config) (*Calendar, error) {
	loc := c.Location
	if loc == nil {
		var err error
		if loc, err = time.LoadLocation(DefaultZone); err != nil {
			return nil, err
		}
	}
	mk := c.MakeUpHours
	if len(mk) == 0 {
		for d := time.Monday; d <= time.Friday; d++ {
			if len(c.Hours[d]) > 0 {
				mk = c.Hours[d]
				break
			}
		}
	}
	return &Calendar{loc: loc, hours: c.Hours, makeUp: mk, hol: c.Holidays, season: c.Season}, nil
}

// Location is the facility's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// Interval is a half-open span of absolute time [From, To).
type Interval struct{ From, To time.Time }

// Day is everything a rule needs to know about one local day of a facility.
type Day struct {
	Date   Date
	Start  time.Time // local midnight
	End    time.Time // next local midnight (23 or 25 hours later across DST)
	Kind   DayKind
	Name   string // the holiday's name, for a holiday or make-up day
	Season Season
	open   [maxSpans]Interval
	nOpen  int
}

// Open returns the day's opening intervals.
func (d *Day) Open() []Interval { return d.open[:d.nOpen] }

// Contains reports whether t falls on this day.
func (d *Day) Contains(t time.Time) bool { return !t.Before(d.Start) && t.Before(d.End) }

// IsOpen reports whether the facility is open at t, which must fall on d.
func (d *Day) IsOpen(t time.Time) bool {
	for i := 0; i < d.nOpen; i++ {
		if !t.Before(d.open[i].From) && t.Before(d.open[i].To) {
			return true
		}
	}
	return false
}

// Closing is the end of the day's last opening span; ok is false on a day
// the facility does not open.
func (d *Day) Closing() (time.Time, bool) {
	if d.nOpen == 0 {
		return time.Time{}, false
	}
	last := d.open[0].To
	for i := 1; i < d.nOpen; i++ {
		if d.open[i].To.After(last) {
			last = d.open[i].To
		}
	}
	return last, true
}

// Day describes the local day that contains t.
func (c *Calendar) Day(t time.Time) Day {
	lt := t.In(c.loc)
	y, m, dd := lt.Date()
	date := Date{y, m, dd}
	day := Day{
		Date:   date,
		Start:  time.Date(y, m, dd, 0, 0, 0, 0, c.loc),
		End:    time.Date(y, m, dd+1, 0, 0, 0, 0, c.loc),
		Season: c.season.season(m, dd),
	}
	spans := c.hours[lt.Weekday()]
	holiday, isHoliday := c.hol.Holiday(date)
	switch wd := lt.Weekday(); {
	case c.hol.MakeUpWorkday(date):
		day.Kind, spans = MakeUp, c.makeUp
		day.Name = c.hol.work[date]
	case isHoliday:
		day.Kind, spans, day.Name = Holiday, nil, holiday
	case wd == time.Saturday || wd == time.Sunday:
		day.Kind = Weekend
	default:
		day.Kind = Workday
	}
	for _, s := range spans {
		if day.nOpen == maxSpans {
			break
		}
		// time.Date normalises minutes past 59, and handles DST gaps.
		day.open[day.nOpen] = Interval{
			From: time.Date(y, m, dd, 0, s.From, 0, 0, c.loc),
			To:   time.Date(y, m, dd, 0, s.To, 0, 0, c.loc),
		}
		day.nOpen++
	}
	return day
}

// IsOpen reports whether the facility is open at t.
func (c *Calendar) IsOpen(t time.Time) bool {
	d := c.Day(t)
	return d.IsOpen(t)
}

// Season is the season at t in the facility's region.
func (c *Calendar) Season(t time.Time) Season {
	m, d := t.In(c.loc).Month(), t.In(c.loc).Day()
	return c.season.season(m, d)
}

// ClosingTime is when the facility closes on the local day containing day;
// ok is false when it does not open that day.
func (c *Calendar) ClosingTime(day time.Time) (time.Time, bool) {
	d := c.Day(day)
	return d.Closing()
}
