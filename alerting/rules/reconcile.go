package rules

import (
	"fmt"
	"time"
)

// ActorRegistry is the Actor of the transitions that end an alert because
// the registry no longer lists what it is about (UpdateFacility,
// RemoveFacility, RetireUnlisted).
const ActorRegistry = "registry"

// UpdateFacility applies a changed registry record of a facility the
// engine evaluates: rooms and their types, devices (new ones, removed
// ones, changed rooms, kinds and intervals), gateways, region, time zone
// and opening hours. What still exists keeps its state: open alerts and
// their episodes, rolling windows, last values, `for` timers, absence and
// gateway clocks. A new device or gateway starts its absence clock now.
//
// What no longer exists ends, by one rule: an alert whose device, gateway
// or room the record no longer lists, or whose rule no longer applies (a
// device moved to another room is another instance: its alerts end
// there and start afresh in the new room; a room whose type changed keeps
// the alerts of rules that still apply to it), is resolved when it is
// firing or acknowledged: recorded, and notified exactly when its firing
// was announced, so the escalation closes; a pending one goes back to
// inactive, recorded, nobody told; an inactive one is dropped. These
// transitions have Actor ActorRegistry. A removed device's or gateway's
// readings and statuses are refused by the service before they reach the
// engine, so nothing brings it back.
//
// The returned slice is owned by the engine and valid until its next call.
func (e *Engine) UpdateFacility(in Facility) ([]Transition, error) {
	e.out = e.out[:0]
	old := e.fac[in.ID]
	if old == nil {
		return nil, fmt.Errorf("rules: facility %q is not evaluated: add it first", in.ID)
	}
	now := e.clock().UnixNano()
	oldAlerts := old.alerts()
	e.unregister(old)
	n, err := e.build(in, now)
	if err != nil {
		// The old state stays in force, as the registry keeps a record's
		// last good version.
		e.fac[in.ID] = old
		for fp, a := range oldAlerts {
			e.byFP[fp] = a
		}
		e.gatewaysKnown += len(old.gateways)
		return nil, err
	}
	if err := e.carryOver(old, n); err != nil {
		e.log.Error("carrying a facility's devices learnt from traffic over failed", "facility", in.ID, "err", err)
	}
	c := evalCtx{e: e, f: n, live: true, dc: &n.tickDay}
	for fp, a := range oldAlerts {
		if _, ok := e.byFP[fp]; !ok {
			e.retire(&c, a, now)
		}
	}
	e.retireRestoring(n, now)
	return e.out, nil
}

// RemoveFacility stops evaluating a facility the registry no longer lists
// (or that no longer belongs to this engine's shard): every alert of it
// ends by UpdateFacility's rule. The returned slice is owned by the engine
// and valid until its next call.
func (e *Engine) RemoveFacility(id string) []Transition {
	e.out = e.out[:0]
	f := e.fac[id]
	if f == nil {
		return nil
	}
	now := e.clock().UnixNano()
	alerts := f.alerts()
	e.unregister(f)
	e.m.facilities.Dec()
	c := evalCtx{e: e, f: f, live: true, dc: &f.tickDay}
	for _, a := range alerts {
		e.retire(&c, a, now)
	}
	for fp, r := range e.restoring {
		if r.Facility == id {
			delete(e.restoring, fp)
			e.retire(&c, &alert{Alert: r}, now)
		}
	}
	return e.out
}

// RetireUnlisted ends the restored alerts (Restore) of devices, gateways
// and rooms their facility no longer lists, by UpdateFacility's rule: the
// registry changed while the service was down. Call it after Restore. The
// returned slice is owned by the engine and valid until its next call.
func (e *Engine) RetireUnlisted() []Transition {
	e.out = e.out[:0]
	now := e.clock().UnixNano()
	for _, f := range e.fac {
		e.retireRestoring(f, now)
	}
	return e.out
}

// retireRestoring ends the restored alerts of f waiting for an instance
// that f no longer lists.
func (e *Engine) retireRestoring(f *facility, now int64) {
	c := evalCtx{e: e, f: f, live: true, dc: &f.tickDay}
	for fp, r := range e.restoring {
		if r.Facility == f.id && !f.lists(r) {
			delete(e.restoring, fp)
			e.retire(&c, &alert{Alert: r}, now)
		}
	}
}

// lists reports whether the alert's device or gateway (or, for a room's
// alert, its room) is one the facility's record lists, or one learnt from
// traffic.
func (f *facility) lists(a Alert) bool {
	if a.Device != "" {
		return f.devices[a.Device] != nil || f.gateways[a.Device] != nil
	}
	if a.Room == "" {
		return true
	}
	_, ok := f.roomTypes[a.Room]
	return ok
}

// retire ends an alert whose instance no longer exists (see
// UpdateFacility).
func (e *Engine) retire(c *evalCtx, a *alert, t int64) {
	switch {
	case a.State.active():
		from := a.State
		a.State, a.ResolvedAt = Resolved, time.Unix(0, t)
		a.clearSince, a.pendingSince = 0, 0
		c.emit(a, from, Resolved, t, ActorRegistry, a.Announced)
		a.Announced = false
		e.m.retired.WithLabelValues("resolved").Inc()
	case a.State == Pending:
		a.State, a.pendingSince = Inactive, 0
		c.emit(a, Pending, Inactive, t, ActorRegistry, false)
		e.m.retired.WithLabelValues("inactive").Inc()
	default:
		e.m.retired.WithLabelValues("dropped").Inc()
	}
}

// carryOver moves the state of old (the facility before a registry change)
// into n, its rebuild: the facility's clocks, what was learnt from traffic
// (devices and gateways the record never listed), and, by identity, each
// device's, gateway's and rule instance's memory and each alert's state.
func (e *Engine) carryOver(old, n *facility) error {
	n.added, n.watermark, n.lastArrival, n.lastReplay, n.judged = old.added, old.watermark, old.lastArrival, old.lastReplay, old.judged
	var firstErr error
	for id, od := range old.devices {
		if od.registered || n.devices[id] != nil {
			continue
		}
		d, err := e.device(n, id, od.room, false)
		if err != nil {
			firstErr = err
			continue
		}
		for _, s := range od.series {
			if _, err := e.series(n, d, s.kind); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	for id, og := range old.gateways {
		if !og.registered && n.gateways[id] == nil {
			if _, err := e.gateway(n, id); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	for id, d := range n.devices {
		od := old.devices[id]
		if od == nil {
			continue
		}
		d.added, d.lastSeen, d.lastLive = od.added, od.lastSeen, od.lastLive
		for _, s := range d.series {
			for _, os := range od.series {
				if os.kind == s.kind && od.room == d.room {
					s.openSince = os.openSince
					carrySeries(e, os, s)
				}
			}
		}
	}
	for id, g := range n.gateways {
		if og := old.gateways[id]; og != nil {
			g.added, g.lastArrival, g.suspectAt, g.draining = og.added, og.lastArrival, og.suspectAt, og.draining
		}
	}
	for room, rs := range n.rooms {
		if ors := old.rooms[room]; ors != nil {
			for _, v := range rs.vents {
				for _, ov := range ors.vents {
					if ov.a.Fingerprint == v.a.Fingerprint {
						v.dayStart, v.count = ov.dayStart, ov.count
					}
				}
			}
		}
	}
	oldAlerts := old.alerts()
	for fp, a := range n.alerts() {
		if oa := oldAlerts[fp]; oa != nil {
			a.carry(oa)
		}
	}
	return firstErr
}

// carrySeries moves the thresholds' and rises' memory of one kind of one
// device from os to s, matched by their alerts' fingerprints. A window
// whose rule changed its span or buckets (a room type's override) starts
// empty, counted like a restored one.
func carrySeries(e *Engine, os, s *series) {
	for _, th := range s.thresholds {
		for _, ot := range os.thresholds {
			if ot.a.Fingerprint != th.a.Fingerprint {
				continue
			}
			if th.win != nil && (ot.win == nil || ot.win.width != th.win.width || len(ot.win.ids) != len(th.win.ids)) {
				e.m.seriesRestored.WithLabelValues("changed").Inc()
				break
			}
			if th.win != nil {
				th.win = ot.win
			}
			th.last, th.lastT, th.has, th.lastLive = ot.last, ot.lastT, ot.has, ot.lastLive
		}
	}
	for _, r := range s.rises {
		for _, or := range os.rises {
			if or.a.Fingerprint == r.a.Fingerprint {
				r.last = or.last
				if len(or.ring.t) == len(r.ring.t) {
					r.ring = or.ring
				}
			}
		}
	}
}

// carry gives a rebuilt alert the state of its predecessor: the episode
// goes on. An alert not in an episode takes its rule's current severity and
// text.
func (a *alert) carry(old *alert) {
	sev, desc := a.Severity, a.Description
	a.Alert = old.Alert
	a.pendingSince, a.clearSince = old.pendingSince, old.clearSince
	if a.State != Pending && !a.State.active() {
		a.Severity, a.Description = sev, desc
	}
}
