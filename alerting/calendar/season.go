package calendar

import (
	"fmt"
	"strings"
	"time"
)

// Season selects the temperature and humidity ranges of GB/T 18883-2022.
type Season uint8

// Seasons. Transition is neither heating nor cooling (spring, autumn).
const (
	Transition Season = iota
	Heating
	Cooling
)

// String names the season as the rule configuration does.
func (s Season) String() string {
	switch s {
	case Heating:
		return "heating"
	case Cooling:
		return "cooling"
	default:
		return "transition"
	}
}

// ParseSeason maps a configuration name to a Season.
func ParseSeason(s string) (Season, error) {
	switch s {
	case "heating":
		return Heating, nil
	case "cooling":
		return Cooling, nil
	case "transition":
		return Transition, nil
	}
	return 0, fmt.Errorf("unknown season %q (want heating, cooling or transition)", s)
}

// MonthDay is a day of the year, "MM-DD".
type MonthDay struct {
	Month time.Month
	Day   int
}

func (m MonthDay) key() int { return int(m.Month)*100 + m.Day }

// ParseMonthDay parses "MM-DD".
func ParseMonthDay(s string) (MonthDay, error) {
	t, err := time.Parse("01-02", s)
	if err != nil {
		return MonthDay{}, fmt.Errorf("%q: want MM-DD", s)
	}
	return MonthDay{t.Month(), t.Day()}, nil
}

// Period is an inclusive span of days of the year; it may wrap the new year
// (heating from 11-15 to 03-15). The zero Period is empty.
type Period struct{ From, To MonthDay }

func (p Period) contains(m, d int) bool {
	if p.From.Month == 0 {
		return false
	}
	k, a, b := m*100+d, p.From.key(), p.To.key()
	if a <= b {
		return k >= a && k <= b
	}
	return k >= a || k <= b
}

// SeasonDates are a region's heating and cooling periods.
type SeasonDates struct {
	Region  string // region code prefix ("11" Beijing, "6501" Urumqi); "" matches all
	Heating Period
	Cooling Period
}

// SeasonTable picks the season dates of a region by longest prefix.
type SeasonTable []SeasonDates

// For returns the dates of the longest prefix of region in the table.
func (t SeasonTable) For(region string) SeasonDates {
	best, bestLen := SeasonDates{}, -1
	for _, s := range t {
		if strings.HasPrefix(region, s.Region) && len(s.Region) > bestLen {
			best, bestLen = s, len(s.Region)
		}
	}
	return best
}

func (s SeasonDates) season(m time.Month, d int) Season {
	switch {
	case s.Heating.contains(int(m), d):
		return Heating
	case s.Cooling.contains(int(m), d):
		return Cooling
	}
	return Transition
}
