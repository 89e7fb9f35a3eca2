package rules

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/model"
)

// This file is the rule set's read-only answer to "what is allowed here
// and now?", for everything outside the engine that speaks of limits: the
// compliance rollup judges room-minutes with RoomLimits, the dashboards
// draw KindLimits' bands, the monthly report prints them. It reads the
// same compiled rules, overrides, seasons and calendar as the engine, so
// "in limits" means one thing everywhere.

// Band is the range a reading kind must stay in, [Min, Max]; an unbounded
// side is ±Inf.
type Band struct{ Min, Max float64 }

// Unbounded is the band of a kind no rule limits.
var Unbounded = Band{math.Inf(-1), math.Inf(1)}

// Contains reports whether v is within the band (false for NaN), as the
// engine judges a threshold: a violation is below Min or above Max, judged
// in the engine's fixed point (fixed.go). A one-minute mean at the limit
// that InfluxDB returns a few floating-point units above it is therefore
// within, as the engine's exact mean of the same readings is.
func (b Band) Contains(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if math.Abs(v) > fixedLimitBound {
		return v >= b.Min && v <= b.Max // beyond every kind's range: no rounding matters
	}
	l := level{sum: fixedLimit(v), n: 1}
	return !l.below(fixedLimit(b.Min)) && !l.above(fixedLimit(b.Max))
}

// Intersect is the band both allow.
func (b Band) Intersect(o Band) Band { return Band{math.Max(b.Min, o.Min), math.Min(b.Max, o.Max)} }

// Union is the smallest band containing both.
func (b Band) Union(o Band) Band { return Band{math.Min(b.Min, o.Min), math.Max(b.Max, o.Max)} }

// HasMin and HasMax report the bounded sides.
func (b Band) HasMin() bool { return !math.IsInf(b.Min, -1) }

// HasMax reports whether the band has an upper limit.
func (b Band) HasMax() bool { return !math.IsInf(b.Max, 1) }

// RoomLimits are the limits of one room of one facility: its rules with
// every override applied, its facility's calendar (opening hours, holidays,
// the region's seasons). Not safe for concurrent use (it caches the day).
type RoomLimits struct {
	cal    *calendar.Calendar
	byKind map[model.Kind][]*params
	day    calendar.Day
	hasDay bool
}

// RoomLimits compiles the limits of a room of type rt in a facility whose
// calendar is cal (RuleSet.Calendar). A room the facility does not list
// has type "" and gets the rules without room-type overrides, as in the
// engine.
func (rs *RuleSet) RoomLimits(facility, room string, rt model.RoomType, cal *calendar.Calendar) (*RoomLimits, error) {
	l := &RoomLimits{cal: cal, byKind: map[model.Kind][]*params{}}
	for _, name := range rs.names {
		p, err := rs.resolve(name, facility, room, rt)
		if err != nil {
			return nil, fmt.Errorf("rules: facility %s room %q rule %s: %w", facility, room, name, err)
		}
		if p == nil || p.typ != typeThreshold || !p.appliesTo(rt) {
			continue
		}
		l.byKind[p.kind] = append(l.byKind[p.kind], p)
	}
	return l, nil
}

// At returns the band of kind k at t: the intersection of every threshold
// rule on k in scope at t (opening hours or not) with its season's limits.
// judged is false when no rule judges k there and then; every value is
// then in limits.
func (l *RoomLimits) At(k model.Kind, t time.Time) (b Band, judged bool) {
	ps := l.byKind[k]
	if len(ps) == 0 {
		return Unbounded, false
	}
	if !l.hasDay || !l.day.Contains(t) {
		l.day, l.hasDay = l.cal.Day(t), true
	}
	open := l.day.IsOpen(t)
	b = Unbounded
	for _, p := range ps {
		if !scopeHolds(p.when, open) {
			continue
		}
		lim := p.lim[l.day.Season]
		b, judged = b.Intersect(Band{lim.min, lim.max}), true
	}
	return b, judged
}

// Within reports whether v of kind k at t is in limits: inside the band,
// or not judged.
func (l *RoomLimits) Within(k model.Kind, t time.Time, v float64) bool {
	b, judged := l.At(k, t)
	return !judged || b.Contains(v)
}

func scopeHolds(w When, open bool) bool {
	switch w {
	case OpenHours:
		return open
	case ClosedHours:
		return !open
	}
	return true
}

// ThresholdRule describes one threshold rule for texts: its name, Chinese
// description, cited source and averaging window (0: each reading).
type ThresholdRule struct {
	Name, Description, Source string
	Window                    time.Duration
	When                      When
}

// KindLimits describe a kind's limits across seasons and room types, in
// opening hours and with no facility's override: what a chart's bands and
// a report's text say.
type KindLimits struct {
	Kind  model.Kind
	Rules []ThresholdRule
	// Seasons are the bands of a room with no room-type override, by
	// season; a season no rule judges is absent.
	Seasons map[calendar.Season]Band
	// RoomTypes lists the room types whose bands differ from Seasons, with
	// theirs; a type absent from its map is not judged in that season
	// (kitchen temperature).
	RoomTypes map[model.RoomType]map[calendar.Season]Band
	// Widest is the union of every band above: what one chart can draw.
	Widest Band
}

// Seasons in the order texts list them.
var Seasons = []calendar.Season{calendar.Heating, calendar.Cooling, calendar.Transition}

// KindLimits returns the limits of kind k; ok is false when no threshold
// rule reads it.
func (rs *RuleSet) KindLimits(k model.Kind) (KindLimits, bool) {
	out := KindLimits{Kind: k, RoomTypes: map[model.RoomType]map[calendar.Season]Band{}}
	for _, name := range rs.names {
		p := rs.defaults[name]
		if p == nil || p.typ != typeThreshold || p.kind != k {
			continue
		}
		out.Rules = append(out.Rules, ThresholdRule{Name: p.name, Description: p.desc, Source: rs.source(name),
			Window: time.Duration(p.window), When: p.when})
	}
	bands := func(rt model.RoomType) map[calendar.Season]Band {
		m := map[calendar.Season]Band{}
		for _, name := range rs.names {
			p, err := rs.resolve(name, "", "", rt)
			if err != nil || p == nil || p.typ != typeThreshold || p.kind != k || !p.appliesTo(rt) || p.when == ClosedHours {
				continue
			}
			for _, s := range Seasons {
				b, ok := m[s]
				if !ok {
					b = Unbounded
				}
				m[s] = b.Intersect(Band{p.lim[s].min, p.lim[s].max})
			}
		}
		return m
	}
	out.Seasons = bands("")
	judged := len(out.Seasons) > 0
	widest := Band{math.Inf(1), math.Inf(-1)}
	for _, b := range out.Seasons {
		widest = widest.Union(b)
	}
	types := make([]model.RoomType, 0, len(rs.cfg.Overrides.RoomTypes))
	for rt := range rs.cfg.Overrides.RoomTypes {
		types = append(types, rt)
	}
	sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
	for _, rt := range types {
		m := bands(rt)
		if sameBands(m, out.Seasons) {
			continue
		}
		out.RoomTypes[rt] = m
		for _, b := range m {
			widest, judged = widest.Union(b), true
		}
	}
	out.Widest = widest
	return out, judged
}

func sameBands(a, b map[calendar.Season]Band) bool {
	if len(a) != len(b) {
		return false
	}
	for s, x := range a {
		if y, ok := b[s]; !ok || x != y {
			return false
		}
	}
	return true
}

// source is a rule's cited source, read from its node (the engine does
// not keep it).
func (rs *RuleSet) source(name string) string {
	rc, err := decodeRule(rs.nodes[name])
	if err != nil {
		return ""
	}
	return rc.Source
}

// RoomTypeGroup is room types that share their bands.
type RoomTypeGroup struct {
	Types   []model.RoomType
	Seasons map[calendar.Season]Band // empty: not judged
}

// Groups returns RoomTypes grouped by identical bands, in room type order.
func (kl KindLimits) Groups() []RoomTypeGroup {
	types := make([]model.RoomType, 0, len(kl.RoomTypes))
	for rt := range kl.RoomTypes {
		types = append(types, rt)
	}
	sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
	var out []RoomTypeGroup
next:
	for _, rt := range types {
		for i := range out {
			if sameBands(out[i].Seasons, kl.RoomTypes[rt]) {
				out[i].Types = append(out[i].Types, rt)
				continue next
			}
		}
		out = append(out, RoomTypeGroup{Types: []model.RoomType{rt}, Seasons: kl.RoomTypes[rt]})
	}
	return out
}

// Uniform returns the band when every season has the same one.
func Uniform(m map[calendar.Season]Band) (Band, bool) {
	if len(m) != len(Seasons) {
		return Band{}, false
	}
	b := m[Seasons[0]]
	for _, s := range Seasons[1:] {
		if m[s] != b {
			return Band{}, false
		}
	}
	return b, true
}
