package rules

import "time"

// evalCtx is one evaluation: a facility, whether its transitions may
// notify, and which day cache it reads. held: live data whose verdict
// waits until the facility's backlog is in (counted apart from replay).
type evalCtx struct {
	e    *Engine
	f    *facility
	live bool
	held bool
	dc   *dayCache
}

func (c *evalCtx) day(t int64) *dayCache { return c.f.day(c.dc, t) }

func (c *evalCtx) emit(a *alert, from, to State, t int64, actor string, notify bool) {
	m := c.e.m
	if from != to {
		m.transitions[to].Inc()
	}
	if to == Firing || to == Resolved {
		switch {
		case from == to:
			m.announced.Inc()
		case notify:
			m.notified.Inc()
		case c.held:
			m.held.Inc()
		default:
			m.suppressed.Inc()
		}
	}
	c.e.out = append(c.e.out, Transition{Alert: a.Alert, From: from, To: to, At: time.Unix(0, t), Actor: actor, Notify: notify})
}

// threshold compares a reading, or a rolling mean of readings, with limits
// that may depend on the season.
type threshold struct {
	a        *alert
	win      *window // nil: single readings
	state    bool    // the kind reports changes only (door, camera): Tick re-evaluates its last value
	last     level   // the last value judged (a reading, or a window's mean)
	lastT    int64
	has      bool
	lastLive bool // the reading that set last was live (not replay)
}

// observe judges a reading at t; live says whether the reading itself was
// live (c.live may be false for a live reading whose verdict waits).
func (th *threshold) observe(c *evalCtx, t int64, v float64, live bool) {
	p := th.a.p
	value := single(v)
	if th.win != nil {
		switch th.win.add(t, v) {
		case duplicate:
			c.e.m.duplicates.Inc()
			return // the mean is what it was, and was judged
		case unchecked:
			c.e.m.unchecked.Inc()
		case tooOld:
			c.e.m.tooOld.Inc()
			return
		case full:
			c.e.m.bucketFull.Inc()
			return
		}
		mean, cov := th.win.mean()
		if cov < p.minCoverage {
			return
		}
		value = mean
		if t < th.lastT {
			t = th.lastT // a late reading changes the mean as of the newest one
		}
	} else if th.has && t < th.lastT {
		return // out of order: the newer reading already decided
	}
	th.last, th.lastT, th.has, th.lastLive = value, t, true, live
	th.eval(c, t, value)
}

// eval judges a level at t, exactly (fixed.go): a mean at the limit is in
// limits, as it is for the compliance rollup (Band.Contains).
func (th *threshold) eval(c *evalCtx, t int64, value level) {
	p := th.a.p
	dc := c.day(t)
	if !dc.inScope(p.when, t) {
		th.a.step(c, t, condClear, value.v, th.a.Limit)
		return
	}
	l := &p.lim[dc.season]
	switch {
	case value.above(l.qMax):
		th.a.step(c, t, condViolating, value.v, l.max)
	case value.below(l.qMin):
		th.a.step(c, t, condViolating, value.v, l.min)
	case !value.above(l.qClearMax) && !value.below(l.qClearMin):
		th.a.step(c, t, condClear, value.v, th.a.Limit)
	default:
		th.a.step(c, t, condBetween, value.v, th.a.Limit)
	}
}

// tick re-evaluates at processing time now. A state kind keeps its last
// value until it changes (a door stays open), so its `for` and its scope are
// judged on the clock. A sampled kind's last value also stands until the
// next report, as long as it is no older than the allowed lateness: many
// devices report on change only (Zigbee2MQTT), so a CO2 level that stays
// high sends nothing new and its `for` must still run out. Older than that,
// a sampled kind only leaves its scope.
//
// The last value is the facility's present only when it came from a live
// reading, or once the facility has caught up (caught): a value taken from
// a half-replayed backlog may be followed by a newer one still on its way,
// so it is judged (state and history) without notifying. A rolling mean
// waits for the whole backlog either way.
func (th *threshold) tick(c *evalCtx, now int64, caught bool) {
	if !th.has || now < th.lastT {
		return
	}
	tc := *c
	if !caught && (th.win != nil || !th.lastLive) {
		tc.live, tc.held = false, true
	}
	if th.state || now-th.lastT <= c.e.lateness {
		th.eval(&tc, now, th.last)
		return
	}
	if !c.day(now).inScope(th.a.p.when, now) {
		th.a.step(&tc, now, condClear, th.last.v, th.a.Limit)
	}
}

// rise flags a fast increase (possible fire): the value exceeds the lowest
// of the last `within` by more than delta.
type rise struct {
	a    *alert
	ring *riseRing
	last int64
}

func (r *rise) observe(c *evalCtx, t int64, v float64) {
	// Readings older than the newest one judged are ignored, so a live
	// verdict is final whatever a backlog brings later.
	if t < r.last {
		return
	}
	r.last = t
	p := r.a.p
	d := v - r.ring.add(t, v, p.within)
	switch {
	case d > p.delta:
		r.a.step(c, t, condViolating, d, p.delta)
	case d <= p.clearDelta:
		r.a.step(c, t, condClear, d, p.delta)
	default:
		r.a.step(c, t, condBetween, d, p.delta)
	}
}

// vent is the daily ventilation check of one room: windows opened at least
// min_openings times for min_duration each, judged at closing time.
type vent struct {
	a        *alert
	windows  []*series
	dayStart int64 // local day the count belongs to
	count    int
}

// window records a window reading of one of the room's windows.
func (v *vent) window(c *evalCtx, s *series, t int64, open bool) {
	if open {
		if s.openSince == 0 {
			s.openSince = t
		}
		return
	}
	if s.openSince == 0 || t-s.openSince < v.a.p.minDuration {
		s.openSince = 0
		return
	}
	day := c.day(s.openSince).start
	if day > v.dayStart {
		v.dayStart, v.count = day, 0
	}
	if day == v.dayStart {
		v.count++
	}
	s.openSince = 0
}

// judge decides the day that dc describes, at its closing time.
func (v *vent) judge(c *evalCtx, dc *dayCache) {
	n := 0
	if v.dayStart == dc.start {
		n = v.count
	}
	for _, s := range v.windows {
		if s.openSince != 0 && s.openSince >= dc.start && dc.closing-s.openSince >= v.a.p.minDuration {
			n++
		}
	}
	cv := condClear
	if n < v.a.p.minOpenings {
		cv = condViolating
	}
	v.a.step(c, dc.closing, cv, float64(n), float64(v.a.p.minOpenings))
}

// judgeVentilation runs the ventilation check once the facility's time
// (event time, or the clock in Tick) has passed the day's closing time.
func (c *evalCtx) judgeVentilation(t int64) {
	f := c.f
	dc := c.day(t)
	if !dc.hasClosing || t < dc.closing || f.judged >= dc.start {
		return
	}
	f.judged = dc.start
	for _, rs := range f.rooms {
		for _, v := range rs.vents {
			v.judge(c, dc)
		}
	}
}
