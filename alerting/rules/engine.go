package rules

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/model"
)

// Facility is what the engine needs to know about a facility.
type Facility struct {
	model.Facility
	// Gateways expected to connect; a listed gateway that never does is
	// reported as silent. Gateways not listed are learnt from their traffic.
	Gateways []string
	// Calendar; nil builds one from the rule set, OpeningHours and the
	// facility's overrides (RuleSet.Calendar).
	Calendar *calendar.Calendar
	// OpeningHours from the facility file ("mon-fri 07:30-18:00"); empty
	// keeps the rule set's default hours.
	OpeningHours []string
}

// Options carry the engine's dependencies.
type Options struct {
	Rules      *RuleSet
	Clock      func() time.Time // processing time; nil is time.Now
	Logger     *slog.Logger     // nil discards
	Registerer prometheus.Registerer
	// Metrics shared by several engines (one per shard); when nil, New
	// creates them and registers them on Registerer.
	Metrics *Metrics
	// Platform names the engine's platform alerts (centre_link and
	// mass_drop rules): they belong to no facility.
	Platform Platform
}

// Platform identifies the alerts about the platform itself: their Facility
// is ID (default "platform"), which the notification path's directory
// routes to the platform team, and their Device is Instance, the alerting
// instance that saw the incident (default "").
type Platform struct {
	ID       string
	Instance string
}

// DefaultPlatformID is the Facility of platform alerts when Options leave
// it empty.
const DefaultPlatformID = "platform"

// Engine evaluates the rules for the facilities added to it. It is not safe
// for concurrent use: run one engine per shard of facilities (ShardOf), each
// driven by one goroutine.
type Engine struct {
	rs        *RuleSet
	clock     func() time.Time
	log       *slog.Logger
	m         *Metrics
	lateness  int64
	maxFuture int64
	settle    int64
	fac       map[string]*facility
	byFP      map[string]*alert
	restoring map[string]Alert // restored alerts whose instance does not exist yet
	// series restored from a snapshot whose threshold does not exist yet
	// (a device first heard after the restart).
	restoringSeries map[string]ThresholdState
	gatewaysKnown   int
	plat            platform
	out             []Transition
}

// Errors of Acknowledge.
var (
	ErrUnknownAlert = errors.New("rules: unknown alert fingerprint")
	ErrNotFiring    = errors.New("rules: alert is not firing")
)

// New builds an engine.
func New(o Options) *Engine {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(o.Registerer)
	}
	e := &Engine{
		rs: o.Rules, clock: o.Clock, log: o.Logger.With("component", "rules"), m: o.Metrics,
		lateness: o.Rules.engine.lateness, maxFuture: o.Rules.engine.maxFuture, settle: o.Rules.engine.settle,
		fac: map[string]*facility{}, byFP: map[string]*alert{}, restoring: map[string]Alert{},
		restoringSeries: map[string]ThresholdState{}, out: make([]Transition, 0, 64),
	}
	e.newPlatform(o.Platform)
	return e
}

// ShardOf maps a facility to one of n engine shards (FNV-1a).
func ShardOf(facility string, n int) int {
	var h uint32 = 2166136261
	for i := 0; i < len(facility); i++ {
		h ^= uint32(facility[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// AddFacility starts evaluating a facility. Devices listed in the facility
// file start their absence clock now (the engine's clock).
func (e *Engine) AddFacility(in Facility) error {
	if _, dup := e.fac[in.ID]; dup {
		return fmt.Errorf("rules: facility %q added twice", in.ID)
	}
	if _, err := e.build(in, e.clock().UnixNano()); err != nil {
		return err
	}
	e.m.facilities.Inc()
	return nil
}

// build makes the engine's state of a facility, registers it and its
// alerts, and returns it; on error nothing of it stays.
func (e *Engine) build(in Facility, now int64) (f *facility, err error) {
	cal := in.Calendar
	if cal == nil {
		if cal, err = e.rs.Calendar(in.ID, in.Region, in.Location, in.OpeningHours); err != nil {
			return nil, fmt.Errorf("rules: facility %s: %w", in.ID, err)
		}
	}
	f = &facility{
		id: in.ID, region: in.Region, cal: cal, added: now, lastArrival: now,
		roomTypes: map[string]model.RoomType{}, devices: map[string]*device{},
		gateways: map[string]*gateway{}, rooms: map[string]*roomState{}, params: map[string]*params{},
	}
	for _, r := range in.Rooms {
		f.roomTypes[r.ID] = r.Type
	}
	e.fac[in.ID] = f
	defer func() {
		if err != nil {
			e.unregister(f)
		}
	}()
	for _, id := range in.Gateways {
		g, err := e.gateway(f, id)
		if err != nil {
			return nil, err
		}
		g.registered = true
	}
	for _, d := range in.Devices {
		dev, err := e.device(f, d.ID, d.Room, true)
		if err != nil {
			return nil, err
		}
		dev.interval = int64(d.Interval)
		if err := e.setupAbsence(f, dev); err != nil {
			return nil, err
		}
		for _, k := range d.Kinds {
			if _, err := e.series(f, dev, k); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

// unregister removes f and its alerts from the engine's indexes.
func (e *Engine) unregister(f *facility) {
	for fp := range f.alerts() {
		delete(e.byFP, fp)
	}
	e.gatewaysKnown -= len(f.gateways)
	delete(e.fac, f.id)
}

// Acknowledge records that an operator took charge of a firing alert.
func (e *Engine) Acknowledge(fingerprint, actor string, at time.Time) (Transition, error) {
	a, ok := e.byFP[fingerprint]
	if !ok {
		return Transition{}, fmt.Errorf("%w: %s", ErrUnknownAlert, fingerprint)
	}
	if a.State != Firing {
		return Transition{}, fmt.Errorf("%w: %s is %s", ErrNotFiring, fingerprint, a.State)
	}
	a.State, a.AckedBy, a.AckedAt = Acknowledged, actor, at
	e.m.transitions[Acknowledged].Inc()
	return Transition{Alert: a.Alert, From: Firing, To: Acknowledged, At: at, Actor: actor}, nil
}

// Alerts returns the alerts that are pending, firing or acknowledged.
func (e *Engine) Alerts() []Alert {
	var out []Alert
	for _, a := range e.byFP {
		if a.State == Pending || a.State.active() {
			out = append(out, a.Alert)
		}
	}
	return out
}

// Alert returns the engine's record of one alert, whatever its state
// (resolved and inactive ones included), and whether the engine knows it.
func (e *Engine) Alert(fingerprint string) (Alert, bool) {
	a, ok := e.byFP[fingerprint]
	if !ok {
		return Alert{}, false
	}
	return a.Alert, true
}

// Restore puts alerts loaded from the state store back, after the
// facilities were added. A restored firing alert is not notified again; a
// restored pending alert keeps its start, so `for` counts from before the
// restart. Alerts for devices first seen after the restart are applied
// when the device reports; Restore returns how many were applied now.
func (e *Engine) Restore(alerts []Alert) int {
	n := 0
	for _, r := range alerts {
		if r.State != Pending && !r.State.active() {
			continue
		}
		if a, ok := e.byFP[r.Fingerprint]; ok {
			a.restore(r)
			n++
			continue
		}
		if _, ok := e.fac[r.Facility]; !ok || r.Facility == e.plat.id {
			e.m.unknownAlert.Inc()
			e.log.Warn("restored alert for an unknown facility dropped", "fingerprint", r.Fingerprint, "facility", r.Facility, "rule", r.Rule)
			continue
		}
		e.restoring[r.Fingerprint] = r
	}
	return n
}

func (a *alert) restore(r Alert) {
	desc := a.Description
	a.Alert = r
	if a.Alert.Description == "" {
		a.Alert.Description = desc
	}
	a.pendingSince, a.clearSince = 0, 0
	if (r.State == Pending || r.State.active()) && !r.Since.IsZero() {
		a.pendingSince = r.Since.UnixNano()
	}
}

// newAlert registers the alert of one rule instance.
func (e *Engine) newAlert(p *params, f *facility, room, dev string, k model.Kind) *alert {
	a := &alert{p: p, Alert: Alert{
		Fingerprint: Fingerprint(p.name, f.id, room, dev), Rule: p.name, Facility: f.id,
		Room: room, Device: dev, Kind: k, Severity: p.sev, Description: p.desc,
	}}
	e.byFP[a.Fingerprint] = a
	if r, ok := e.restoring[a.Fingerprint]; ok {
		a.restore(r)
		delete(e.restoring, a.Fingerprint)
	}
	return a
}
