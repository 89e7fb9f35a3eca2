package compliance

import (
	"fmt"
	"time"
)

// shanghai is the default facility time zone. Loading it cannot fail on a
// system with tzdata; FixedZone is the fallback (China has no DST).
var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// OpeningHours returns, for a facility, whether it is open at a moment.
// The lead plugs the facility calendar (holidays, 调休 make-up days) in here.
type OpeningHours func(facility string) (isOpen func(time.Time) bool)

// Default opening hours: Monday to Friday 07:30-18:00 Beijing time.
const (
	defaultOpenMinute  = 7*60 + 30
	defaultCloseMinute = 18 * 60
)

// DefaultOpeningHours is Monday to Friday, 07:30-18:00 Asia/Shanghai.
func DefaultOpeningHours(string) func(time.Time) bool {
	return func(t time.Time) bool {
		t = t.In(shanghai)
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
			return false
		}
		m := t.Hour()*60 + t.Minute()
		return m >= defaultOpenMinute && m < defaultCloseMinute
	}
}

// RangeError reports a rollup range that is not whole hours.
type RangeError struct{ From, To time.Time }

func (e *RangeError) Error() string {
	return fmt.Sprintf("compliance: range %s..%s must be whole hours with from before to", e.From, e.To)
}

func checkRange(from, to time.Time) error {
	if !from.Before(to) || !from.Truncate(time.Hour).Equal(from) || !to.Truncate(time.Hour).Equal(to) {
		return &RangeError{From: from, To: to}
	}
	return nil
}
