package rules

import (
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Observe evaluates one reading of a facility, as a live batch would. The
// returned slice is owned by the engine and valid until its next call.
func (e *Engine) Observe(facility string, r model.Reading) []Transition {
	e.out = e.out[:0]
	f := e.fac[facility]
	if f == nil {
		e.m.unknownFacility.Inc()
		return nil
	}
	e.observe(f, e.clock().UnixNano(), &r, false)
	return e.out
}

// ObserveBatch evaluates a gateway's batch: the gateway is alive, and each
// reading is evaluated in order. A batch of the backlog lane is replay
// whatever its readings' times, and a batch's Draining flag says the
// facility's stream is not complete yet (see doc.go, "Backlogs"). The
// returned slice is owned by the engine and valid until its next call.
func (e *Engine) ObserveBatch(b *model.Batch) []Transition {
	e.out = e.out[:0]
	f := e.fac[b.Facility]
	if f == nil {
		e.m.unknownFacility.Inc()
		return nil
	}
	now := e.clock().UnixNano()
	e.m.batchLane(b.Lane, b.Draining)
	if b.Gateway != "" {
		g, err := e.gateway(f, b.Gateway)
		if err == nil {
			g.draining = b.Draining
			e.gatewayUp(f, g, now)
		}
	}
	backlog := b.Lane == model.LaneBacklog
	for i := range b.Readings {
		e.observe(f, now, &b.Readings[i], backlog)
	}
	if len(e.out) == 0 {
		return nil
	}
	return e.out
}

func (e *Engine) observe(f *facility, now int64, r *model.Reading, backlog bool) {
	t := r.Time.UnixNano()
	if t > now+e.maxFuture {
		e.m.future.Inc()
		return
	}
	if !r.Kind.InRange(r.Value) {
		e.m.outOfRange.Inc()
		return
	}
	live := !backlog && t >= f.watermark-e.lateness && t >= now-e.lateness
	if t > f.watermark {
		f.watermark = t
	}
	f.lastArrival = now
	if live {
		e.m.live.Inc()
	} else {
		e.m.replay.Inc()
		f.lastReplay = now
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
	// A live reading decides a single-reading threshold for good (the
	// backlog holds only older readings, which it ignores); a rolling mean
	// and the ventilation count still miss the backlog's readings while the
	// facility is catching up, so their verdicts wait.
	held := c
	if live && (len(s.vents) > 0 || len(f.rooms) > 0 || s.windowed) && !e.caughtUp(f, now) {
		held.live, held.held = false, true
	}
	for _, th := range s.thresholds {
		if th.win != nil {
			th.observe(&held, t, r.Value, live)
		} else {
			th.observe(&c, t, r.Value, live)
		}
	}
	for _, ri := range s.rises {
		ri.observe(&c, t, r.Value)
	}
	for _, v := range s.vents {
		v.window(&held, s, t, r.Value >= 0.5)
	}
	if len(f.rooms) > 0 {
		held.judgeVentilation(f.watermark)
	}
}

// ObserveStatus evaluates a gateway's status message received at at
// (processing time). Online shows the gateway is there; the last will
// (offline, not clean) makes it suspected lost, announced once the
// gateway rule's hold has passed with the platform fine (platform.go). The
// returned slice is owned by the engine and valid until its next call.
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
		e.gatewayUp(f, g, t)
	case st.State == model.GatewayOffline && !st.Clean:
		e.suspect(g, t)
		e.releaseGateway(f, g, t)
	}
	return e.out
}
