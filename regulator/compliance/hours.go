package compliance

import (
	"fmt"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// Calendar is a registered facility's calendar as the alerting service
// builds it: the rule set's default hours or the facility's own, public
// holidays and make-up days, its region's seasons, its time zone.
func Calendar(rs *rules.RuleSet, f *registry.Facility) (*calendar.Calendar, error) {
	return rs.Calendar(f.ID, f.Region, f.Location, f.OpeningHours)
}

// judge answers, for one facility, whether a room's one-minute mean is in
// limits, with each room's limits compiled once.
type judge struct {
	rs    *rules.RuleSet
	fac   *registry.Facility
	cal   *calendar.Calendar
	rooms map[string]*rules.RoomLimits
}

func newJudge(rs *rules.RuleSet, f *registry.Facility, cal *calendar.Calendar) *judge {
	return &judge{rs: rs, fac: f, cal: cal, rooms: map[string]*rules.RoomLimits{}}
}

// within reports whether v, the one-minute mean of measurement kind in
// room at t, is in limits. A kind the rollup does not judge is never
// within: a typo must not make a facility look compliant.
func (j *judge) within(kind, room string, t time.Time, v float64) (bool, error) {
	k, err := model.ParseKind(kind)
	if err != nil || !complianceKind(k) {
		return false, nil
	}
	l, ok := j.rooms[room]
	if !ok {
		if l, err = j.rs.RoomLimits(j.fac.ID, room, j.fac.RoomType(room), j.cal); err != nil {
			return false, err
		}
		j.rooms[room] = l
	}
	return l.Within(k, t, v), nil
}

func complianceKind(k model.Kind) bool {
	for _, c := range model.ComplianceKinds {
		if c == k {
			return true
		}
	}
	return false
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
