package rules

import (
	"fmt"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/model"
)

// facility is the engine's state for one facility. Times are Unix ns.
type facility struct {
	id          string
	region      model.Region
	cal         *calendar.Calendar
	added       int64
	watermark   int64 // newest event time seen
	lastArrival int64 // processing time of the newest batch or reading
	lastReplay  int64 // processing time of the newest replayed reading; 0 none
	roomTypes   map[string]model.RoomType
	devices     map[string]*device
	gateways    map[string]*gateway
	rooms       map[string]*roomState
	params      map[string]*params // rule\x00room → compiled rule
	evDay       dayCache           // day of the newest event-time evaluation
	tickDay     dayCache           // day of the newest Tick
	judged      int64              // start of the last day whose ventilation was judged
	thresholds  []*threshold       // for Tick
}

// dayCache holds one local day so that IsOpen and Season cost two
// comparisons on the hot path.
type dayCache struct {
	ok         bool
	start, end int64
	season     calendar.Season
	open       [4][2]int64
	n          int
	closing    int64
	hasClosing bool
}

func (f *facility) day(dc *dayCache, t int64) *dayCache {
	if dc.ok && t >= dc.start && t < dc.end {
		return dc
	}
	d := f.cal.Day(time.Unix(0, t))
	*dc = dayCache{ok: true, start: d.Start.UnixNano(), end: d.End.UnixNano(), season: d.Season}
	for _, iv := range d.Open() {
		if dc.n == len(dc.open) {
			break
		}
		dc.open[dc.n] = [2]int64{iv.From.UnixNano(), iv.To.UnixNano()}
		dc.n++
	}
	if c, ok := d.Closing(); ok {
		dc.closing, dc.hasClosing = c.UnixNano(), true
	}
	return dc
}

func (dc *dayCache) isOpen(t int64) bool {
	for i := 0; i < dc.n; i++ {
		if t >= dc.open[i][0] && t < dc.open[i][1] {
			return true
		}
	}
	return false
}

func (dc *dayCache) inScope(w When, t int64) bool {
	switch w {
	case OpenHours:
		return dc.isOpen(t)
	case ClosedHours:
		return !dc.isOpen(t)
	}
	return true
}

// device is one sensor, contact or camera.
type device struct {
	id, room   string
	roomType   model.RoomType
	registered bool  // listed in the facility file
	added      int64 // processing time the engine began to expect it
	interval   int64 // expected reporting interval; 0: no absence rule
	lastSeen   int64 // newest event time
	lastLive   int64 // processing time of the newest live reading
	series     []*series
	absence    *alert
	absenceP   *params
	neverDesc  string // absence description for a device that never reported
}

// series is one kind of one device, with the rule instances that read it.
type series struct {
	kind       model.Kind
	thresholds []*threshold
	rises      []*rise
	vents      []*vent // ventilation of the device's room (window kinds)
	windowed   bool    // some threshold is a rolling mean
	openSince  int64   // window kinds: event time the window opened; 0 closed
}

// gateway is one gateway of a facility.
type gateway struct {
	id          string
	registered  bool  // listed in the facility file (not learnt from its traffic)
	added       int64 // processing time the engine began to expect it
	lastArrival int64 // processing time of its last batch or online status; 0 never
	a           *alert
	// draining: its last batch said older entries are still on their way
	// (model.Batch.Draining).
	draining bool
	// suspectAt: processing time it was lost (last will, or silence run
	// out); 0 while it is not suspected. A suspected gateway is announced
	// only once the platform is fine (see platform.go).
	suspectAt int64
}

// caughtUp reports whether the facility's stream is complete up to now:
// no gateway is still draining a backlog (a gateway silent for longer than
// the facility's silence no longer counts: its next batch says again), and
// no replayed reading arrived within the settle time (for gateways that do
// not flag their lanes, and for backlog batches sent again). What the
// backlog may still revise is announced only then.
func (e *Engine) caughtUp(f *facility, now int64) bool {
	silence := e.facilitySilence(f)
	for _, g := range f.gateways {
		if g.draining && now-g.lastArrival <= silence {
			return false
		}
	}
	return f.lastReplay == 0 || now-f.lastReplay >= e.settle
}

// alerts lists every alert of the facility's rule instances by
// fingerprint.
func (f *facility) alerts() map[string]*alert {
	out := map[string]*alert{}
	for _, d := range f.devices {
		if d.absence != nil {
			out[d.absence.Fingerprint] = d.absence
		}
		for _, s := range d.series {
			for _, th := range s.thresholds {
				out[th.a.Fingerprint] = th.a
			}
			for _, r := range s.rises {
				out[r.a.Fingerprint] = r.a
			}
		}
	}
	for _, rs := range f.rooms {
		for _, v := range rs.vents {
			out[v.a.Fingerprint] = v.a
		}
	}
	for _, g := range f.gateways {
		if g.a != nil {
			out[g.a.Fingerprint] = g.a
		}
	}
	return out
}

// roomState holds room-level rules.
type roomState struct{ vents []*vent }

func (e *Engine) rule(f *facility, name, room string) (*params, error) {
	key := name + "\x00" + room
	if p, ok := f.params[key]; ok {
		return p, nil
	}
	p, err := e.rs.resolve(name, f.id, room, f.roomTypes[room])
	if err != nil {
		return nil, fmt.Errorf("rules: facility %s room %q rule %s: %w", f.id, room, name, err)
	}
	if p != nil && !p.appliesTo(f.roomTypes[room]) {
		p = nil
	}
	f.params[key] = p
	return p, nil
}

func (e *Engine) device(f *facility, id, room string, registered bool) (*device, error) {
	if d, ok := f.devices[id]; ok {
		return d, nil
	}
	if len(f.devices) >= e.rs.engine.maxDevices {
		return nil, errDeviceLimit
	}
	d := &device{id: id, room: room, roomType: f.roomTypes[room], registered: registered, added: e.clock().UnixNano()}
	f.devices[id] = d
	return d, nil
}

var errDeviceLimit = fmt.Errorf("rules: too many devices in the facility")

func (e *Engine) setupAbsence(f *facility, d *device) error {
	if d.interval <= 0 {
		return nil
	}
	for _, name := range e.rs.names {
		p, err := e.rule(f, name, d.room)
		if err != nil {
			return err
		}
		if p == nil || p.typ != typeAbsence {
			continue
		}
		d.absenceP = p
		d.neverDesc = p.desc + "（从未上报）"
		d.absence = e.newAlert(p, f, d.room, d.id, model.KindUnknown)
		return nil
	}
	return nil
}

// series finds or builds the rule instances of one kind of one device.
func (e *Engine) series(f *facility, d *device, k model.Kind) (*series, error) {
	for _, s := range d.series {
		if s.kind == k {
			return s, nil
		}
	}
	s := &series{kind: k}
	for _, name := range e.rs.names {
		p, err := e.rule(f, name, d.room)
		if err != nil {
			return nil, err
		}
		if p == nil || p.kind != k {
			continue
		}
		switch p.typ {
		case typeThreshold:
			th := &threshold{a: e.newAlert(p, f, d.room, d.id, k), state: k.IsState()}
			if p.window > 0 {
				th.win = newWindow(p.window, p.buckets)
				s.windowed = true
			}
			e.restoreSeries(th)
			s.thresholds = append(s.thresholds, th)
			f.thresholds = append(f.thresholds, th)
		case typeRise:
			s.rises = append(s.rises, &rise{a: e.newAlert(p, f, d.room, d.id, k), ring: newRiseRing(p.samples)})
		case typeVentilation:
			if d.room == "" {
				continue
			}
			s.vents = append(s.vents, e.vent(f, p, d.room, s))
		}
	}
	d.series = append(d.series, s)
	return s, nil
}

func (e *Engine) vent(f *facility, p *params, room string, s *series) *vent {
	rs := f.rooms[room]
	if rs == nil {
		rs = &roomState{}
		f.rooms[room] = rs
	}
	for _, v := range rs.vents {
		if v.a.p == p {
			v.windows = append(v.windows, s)
			return v
		}
	}
	v := &vent{a: e.newAlert(p, f, room, "", p.kind), windows: []*series{s}}
	rs.vents = append(rs.vents, v)
	return v
}

func (e *Engine) gateway(f *facility, id string) (*gateway, error) {
	if g, ok := f.gateways[id]; ok {
		return g, nil
	}
	g := &gateway{id: id, added: e.clock().UnixNano()}
	e.gatewaysKnown++
	for _, name := range e.rs.names {
		p, err := e.rule(f, name, "")
		if err != nil {
			return nil, err
		}
		if p != nil && p.typ == typeGateway {
			g.a = e.newAlert(p, f, "", id, model.KindUnknown)
			break
		}
	}
	f.gateways[id] = g
	return g, nil
}
