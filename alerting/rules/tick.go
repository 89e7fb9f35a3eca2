package rules

import (
	"time"
)

// Tick evaluates the time-driven rules at processing time now: gateway
// losses and the platform (platform.go), device absence, `for` and scope
// of state kinds (a door left open), and the ventilation check at closing
// time. Call it every few seconds from the shard's goroutine. The returned
// slice is owned by the engine and valid until its next call.
func (e *Engine) Tick(now time.Time) []Transition {
	e.out = e.out[:0]
	t := now.UnixNano()
	e.tickPlatform(t)
	for _, f := range e.fac {
		e.tick(f, t)
	}
	return e.out
}

func (e *Engine) tick(f *facility, now int64) {
	c := evalCtx{e: e, f: f, live: true, dc: &f.tickDay}
	down := 0
	for _, g := range f.gateways {
		e.releaseGateway(f, g, now)
		if g.suspectAt != 0 || (g.a != nil && g.a.State.active()) {
			down++
		}
	}
	// While a gateway is lost its devices are silent too; one alert says
	// it. While the centre itself is deaf nobody is silent.
	if down == 0 && !e.plat.deaf {
		for _, d := range f.devices {
			e.tickAbsence(&c, f, d, now)
		}
	}
	// A facility whose stream stopped is judged by its gateway alert, not
	// by stale door and camera states.
	if silence := e.facilitySilence(f); now-f.lastArrival > silence {
		return
	}
	caught := e.caughtUp(f, now)
	for _, th := range f.thresholds {
		th.tick(&c, now, caught)
	}
	if len(f.rooms) > 0 {
		if !caught {
			c.live, c.held = false, true // the backlog may still bring window openings
		}
		c.judgeVentilation(now)
	}
}

// facilitySilence is the gateway rule's silence, or the allowed lateness
// when there is none.
func (e *Engine) facilitySilence(f *facility) int64 {
	for _, g := range f.gateways {
		if g.a != nil {
			return g.a.p.silence
		}
	}
	return e.lateness
}

func (e *Engine) tickAbsence(c *evalCtx, f *facility, d *device, now int64) {
	a := d.absence
	if a == nil || a.State.active() {
		return
	}
	limit := int64(float64(d.interval) * d.absenceP.factor)
	if limit < d.absenceP.minSilence {
		limit = d.absenceP.minSilence
	}
	last := d.lastLive
	if last == 0 {
		last = d.added
		if d.lastSeen == 0 {
			a.Description = d.neverDesc
		}
	} else {
		a.Description = d.absenceP.desc
	}
	// The centre could not hear anything while it was blind: silence
	// counts from when it hears again.
	last = max(last, e.plat.okSince)
	if now-last > limit {
		a.step(c, now, condViolating, float64(now-last)/1e9, float64(limit)/1e9)
	}
}
