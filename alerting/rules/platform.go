package rules

import (
	"math"
	"time"
)

// platform is what the engine knows of the platform's own health: whether
// the centre hears the gateways at all. A gateway's loss is a facility's
// outage only while the centre is fine; when the service's own link to the
// broker is down (CentreLost), or many gateways are lost at once (the
// mass_drop rule), it is the platform's, told to the platform team by the
// centre_link and mass_drop rules, and no facility is paged for it.
type platform struct {
	id, instance string
	link, drop   *alert // the centre_link and mass_drop rules' alerts; nil without such a rule
	deaf         bool   // the link to the broker is down
	okSince      int64  // since when the centre hears every gateway: link up and no mass drop
	incident     int64  // start of the current mass drop; 0 none
}

func (e *Engine) newPlatform(o Platform) {
	id := o.ID
	if id == "" {
		id = DefaultPlatformID
	}
	e.plat = platform{id: id, instance: o.Instance, okSince: e.clock().UnixNano()}
	for _, p := range e.rs.platform {
		a := &alert{p: p, Alert: Alert{Fingerprint: Fingerprint(p.name, id, "", o.Instance), Rule: p.name,
			Facility: id, Device: o.Instance, Severity: p.sev, Description: p.desc}}
		e.byFP[a.Fingerprint] = a
		switch p.typ {
		case typeCentreLink:
			e.plat.link = a
		case typeMassDrop:
			e.plat.drop = a
		}
	}
}

// platformOK reports whether a lost gateway is its facility's outage.
func (e *Engine) platformOK() bool { return !e.plat.deaf && e.plat.incident == 0 }

// CentreLost tells the engine that the service lost its link to the
// central broker at at: from now on it hears nothing, so gateway losses
// are not announced (a broker that stops publishes every gateway's last
// will), silences do not count, and the centre_link rule fires. The
// returned slice is owned by the engine and valid until its next call.
func (e *Engine) CentreLost(at time.Time) []Transition {
	e.out = e.out[:0]
	if e.plat.deaf {
		return nil
	}
	e.plat.deaf = true
	e.m.centreLost.Inc()
	if a := e.plat.link; a != nil {
		c := evalCtx{e: e, live: true}
		a.step(&c, at.UnixNano(), condViolating, 0, 0)
	}
	return e.out
}

// CentreBack tells the engine that the service hears the broker again
// from at (also its first connection). Gateways not heard from since then
// have the gateway rule's reconnect_grace to show up; silences count from
// at. The centre_link alert resolves. The returned slice is owned by the
// engine and valid until its next call.
func (e *Engine) CentreBack(at time.Time) []Transition {
	e.out = e.out[:0]
	t := at.UnixNano()
	e.plat.deaf = false
	e.plat.okSince = max(e.plat.okSince, t)
	if a := e.plat.link; a != nil && a.State.active() {
		c := evalCtx{e: e, live: true}
		a.step(&c, t, condClear, 0, 0)
	}
	return e.out
}

// suspect marks a gateway lost at t (its last will, or its silence).
func (e *Engine) suspect(g *gateway, t int64) {
	if g.suspectAt == 0 {
		g.suspectAt = t
	}
}

// fresh reports whether a suspected gateway was heard from, and lost,
// while the centre was fine: a loss of its own.
func (e *Engine) fresh(g *gateway) bool {
	return g.lastArrival >= e.plat.okSince && g.suspectAt >= e.plat.okSince
}

// releaseGateway announces a suspected gateway as its facility's outage
// once the platform is fine and the gateway has not come back: a fresh
// loss after the gateway rule's hold; a gateway not heard from since the
// centre recovered, after reconnect_grace from the recovery.
func (e *Engine) releaseGateway(f *facility, g *gateway, now int64) {
	if g.suspectAt == 0 || g.a == nil || g.a.State.active() || !e.platformOK() {
		return
	}
	p := g.a.p
	if e.fresh(g) {
		if now-g.suspectAt >= p.dropHold {
			e.gatewayDown(f, g, g.suspectAt)
		}
		return
	}
	if now-e.plat.okSince >= p.grace {
		e.gatewayDown(f, g, max(g.suspectAt, e.plat.okSince))
	}
}

// gatewayDown fires the gateway alert as lost at t: critical and escalated
// to the regulators in opening hours.
func (e *Engine) gatewayDown(f *facility, g *gateway, t int64) {
	c := evalCtx{e: e, f: f, live: true, dc: &f.tickDay}
	open := c.day(t).isOpen(t)
	g.a.Severity, g.a.Escalate = g.a.p.sevOff, open
	if open {
		g.a.Severity = g.a.p.sev
	}
	last := max(g.lastArrival, g.added)
	g.a.step(&c, t, condViolating, float64(t-last)/1e9, float64(g.a.p.silence)/1e9)
}

// gatewayUp records that the gateway is heard at t and resolves its alert.
func (e *Engine) gatewayUp(f *facility, g *gateway, t int64) {
	g.lastArrival, g.suspectAt = t, 0
	if g.a == nil || !g.a.State.active() {
		return
	}
	c := evalCtx{e: e, f: f, live: true, dc: &f.tickDay}
	g.a.step(&c, t, condClear, 0, g.a.Limit)
}

// tickPlatform notices silent gateways and judges the mass_drop rule:
// gateways freshly lost within its window, at least min_gateways and the
// fraction of the gateways known, are a platform incident. It lasts until
// fewer than that many of the gateways lost since it began are still
// missing; those left then get reconnect_grace like after a blind centre.
func (e *Engine) tickPlatform(now int64) {
	if e.plat.deaf {
		return
	}
	var fresh, missing int
	var window int64
	if d := e.plat.drop; d != nil {
		window = d.p.window
	}
	for _, f := range e.fac {
		for _, g := range f.gateways {
			if g.a == nil {
				continue
			}
			if g.suspectAt == 0 && !g.a.State.active() {
				ref := max(g.lastArrival, g.added, e.plat.okSince)
				if now-ref > g.a.p.silence {
					e.suspect(g, ref+g.a.p.silence)
				}
			}
			if g.suspectAt == 0 || e.plat.drop == nil {
				continue
			}
			if g.suspectAt > now-window && e.fresh(g) {
				fresh++
			}
			if e.plat.incident != 0 && g.suspectAt >= e.plat.incident-window {
				missing++
			}
		}
	}
	a := e.plat.drop
	if a == nil {
		return
	}
	limit := max(a.p.minGateways, int(math.Ceil(a.p.fraction*float64(e.gatewaysKnown))))
	c := evalCtx{e: e, live: true}
	switch {
	case e.plat.incident == 0 && fresh >= limit:
		e.plat.incident = now
		e.m.massDrops.Inc()
		e.log.Warn("many gateways lost at once: a platform incident, not the facilities'", "gateways", fresh, "limit", limit)
		a.step(&c, now, condViolating, float64(fresh), float64(limit))
	case e.plat.incident != 0 && missing < limit:
		e.plat.incident = 0
		e.plat.okSince = now
		a.step(&c, now, condClear, float64(missing), float64(limit))
	case e.plat.incident == 0 && a.State.active():
		// Restored firing from before a restart: nothing is missing now.
		a.step(&c, now, condClear, float64(fresh), float64(limit))
	}
}
