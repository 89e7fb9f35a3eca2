package rules

import (
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Observe evaluates one reading of a facility. The returned slice is owned
// by the engine and valid until its next call.
func (e *Engine) Observe(facility string, r model.Reading) []Transition {
	e.out = e.out[:0]
	f := e.fac[facility]
	if f == nil {
		e.m.unknownFacility.Inc()
		return nil
	}
	e.observe(f, e.clock().UnixNano(), &r)
	return e.out
}

// ObserveBatch evaluates a gateway's batch: the gateway is alive, and each
// reading is evaluated in order. The returned slice is owned by the engine
// and valid until its next call.
func (e *Engine) ObserveBatch(b *model.Batch) []Transition {
	e.out = e.out[:0]
	f := e.fac[b.Facility]
	if f == nil {
		e.m.unknownFacility.Inc()
		return nil
	}
	now := e.clock().UnixNano()
	if b.Gateway != "" {
		g, err := e.gateway(f, b.Gateway)
		if err == nil {
			g.lastArrival = now
			e.gatewayUp(f, g, now)
		}
	}
	for i := range b.Readings {
		e.observe(f, now, &b.Readings[i])
	}
	if len(e.out) == 0 {
		return nil
	}
	return e.out
}

func (e *Engine) observe(f *facility, now int64, r *model.Reading) {
	t := r.Time.UnixNano()
	if t > now+e.maxFuture {
		e.m.future.Inc()
		return
	}
	if !r.Kind.InRange(r.Value) {
		e.m.outOfRange.Inc()
		return
	}
	live := t >= f.watermark-e.lateness && t >= now-e.lateness
	if t > f.watermark {
		f.watermark = t
	}
	f.lastArrival = now
	if live {
		e.m.live.Inc()
	} else {
		e.m.replay.Inc()
	}
	d := f.devices[r.Device]
	if d == nil {
		var err error
		if d, err = e.device(f, r.Device, r.Room, false); err != nil {
			e.m.deviceLimit.Inc()
			return
		}
	}
	c := evalCtx{e: e, f: f, live: live, dc: &f.evDay}
	if t > d.lastSeen {
		d.lastSeen = t
	}
	if live {
		d.lastLive = now
		// Only live data proves a device is back: a replayed backlog says
		// it was there, not that it is.
		if d.absence != nil && d.absence.State.active() {
			d.absence.step(&c, t, condClear, 0, d.absence.Limit)
		}
	}
	var s *series
	for _, x := range d.series {
		if x.kind == r.Kind {
			s = x
			break
		}
	}
	if s == nil {
		var err error
		if s, err = e.series(f, d, r.Kind); err != nil {
			e.log.Error("building rules for a device failed", "facility", f.id, "device", d.id, "err", err)
			return
		}
	}
	for _, th := range s.thresholds {
		th.observe(&c, t, r.Value)
	}
	for _, ri := range s.rises {
		ri.observe(&c, t, r.Value)
	}
	for _, v := range s.vents {
		v.window(&c, s, t, r.Value >= 0.5)
	}
	if len(f.rooms) > 0 {
		c.judgeVentilation(f.watermark)
	}
}

// ObserveStatus evaluates a gateway's status message received at at
// (processing time). The last will (offline, not clean) fires the gateway
// alert at once; online resolves it. The returned slice is owned by the
// engine and valid until its next call.
func (e *Engine) ObserveStatus(st model.Status, at time.Time) []Transition {
	e.out = e.out[:0]
	f := e.fac[st.Facility]
	if f == nil {
		e.m.unknownFacility.Inc()
		return nil
	}
	g, err := e.gateway(f, st.Gateway)
	if err != nil {
		return nil
	}
	t := at.UnixNano()
	switch {
	case st.State == model.GatewayOnline:
		g.lastArrival = t
		e.gatewayUp(f, g, t)
	case st.State == model.GatewayOffline && !st.Clean:
		e.gatewayDown(f, g, t)
	}
	return e.out
}

func (e *Engine) gatewayUp(f *facility, g *gateway, t int64) {
	if g.a == nil || !g.a.State.active() {
		return
	}
	c := evalCtx{e: e, f: f, live: true, dc: &f.tickDay}
	g.a.step(&c, t, condClear, 0, g.a.Limit)
}

func (e *Engine) gatewayDown(f *facility, g *gateway, t int64) {
	if g.a == nil || g.a.State.active() {
		return
	}
	c := evalCtx{e: e, f: f, live: true, dc: &f.tickDay}
	// Silent in opening hours is a finding for the regulators.
	open := c.day(t).isOpen(t)
	g.a.Severity, g.a.Escalate = g.a.p.sevOff, open
	if open {
		g.a.Severity = g.a.p.sev
	}
	g.a.step(&c, t, condViolating, float64(t-g.lastArrival)/1e9, float64(g.a.p.silence)/1e9)
}
