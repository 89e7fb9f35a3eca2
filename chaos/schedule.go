package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// FaultKind names a kind of fault.
type FaultKind string

// The faults of a run.
const (
	GatewayKill        FaultKind = "gateway_kill"          // SIGKILL, started again
	PowerCut           FaultKind = "power_cut"             // the power-cut build cut at a signal (Variant)
	LocalBrokerRestart FaultKind = "local_broker_restart"  // Mosquitto stopped and started; embedded: the gateway stopped with SIGTERM and started
	CollectorKill      FaultKind = "collector_kill"        // one collector SIGKILLed
	AlertingKill       FaultKind = "alerting_kill"         // one alerting instance SIGKILLed
	AlertingKillAtSend FaultKind = "alerting_kill_at_send" // one alerting instance SIGKILLed as the provider takes an SMS
	InfluxStop         FaultKind = "influxd_stop"          // influxd stopped for For
	CentreRestart      FaultKind = "centre_restart"        // the centre's broker stopped and started
	CentreStop         FaultKind = "centre_stop"           // the centre's broker stopped for For
	UplinkCut          FaultKind = "uplink_cut"            // a gateway's path to the centre cut for For
	SpoolFull          FaultKind = "spool_full"            // a spool's disk filled for For
	MalformedFlood     FaultKind = "malformed_flood"       // malformed messages on a local broker
	HostileFacility    FaultKind = "hostile_facility"      // another facility's credentials attack on the centre's broker
)

// FaultKinds lists every kind, in the report's order.
var FaultKinds = []FaultKind{GatewayKill, PowerCut, LocalBrokerRestart, CollectorKill, AlertingKill, AlertingKillAtSend,
	InfluxStop, CentreRestart, CentreStop, UplinkCut, SpoolFull, MalformedFlood, HostileFacility}

// global reports whether a kind hits every facility (a central part)
// rather than one.
func (k FaultKind) global() bool {
	switch k {
	case CollectorKill, AlertingKill, AlertingKillAtSend, InfluxStop, CentreRestart, CentreStop, HostileFacility:
		return true
	}
	return false
}

// Power cut variants: the signal and what it cuts (cmd/gateway,
// powercut_on.go).
const (
	CutNow       = "usr1"            // SIGUSR1: what was not fsynced is lost
	CutNowTorn   = "usr1-torn"       // SIGUSR1 with a random part of the unsynced bytes kept
	CutInSync    = "usr2"            // SIGUSR2: during the next fsync, a torn tail for certain
	CutAfterSync = "usr2-after-sync" // SIGUSR2: just after the next fsync, before its acknowledgements
)

var cutVariants = []string{CutNow, CutNowTorn, CutInSync, CutAfterSync}

// Fault is one fault of the schedule. At is when it starts, from the start
// of the load; the executor starts it no earlier, once the previous fault
// ended and the system recovered. For is how long it lasts (a kill's:
// how long the process stays down beyond its restart delay).
type Fault struct {
	Kind    FaultKind
	At      time.Duration
	For     time.Duration
	Target  string // facility ID, "collector-N" or "alerting-N"; "" for central parts
	Layout  string // the target facility's layout
	Variant string // power cut: which cut; flood: how many messages
}

func (f Fault) String() string {
	s := fmt.Sprintf("%7.1fs %-22s", f.At.Seconds(), f.Kind)
	if f.Target != "" {
		s += " " + f.Target
	}
	if f.Layout != "" {
		s += " (" + f.Layout + ")"
	}
	if f.Variant != "" {
		s += " " + f.Variant
	}
	if f.For > 0 {
		s += fmt.Sprintf(" for %.1fs", f.For.Seconds())
	}
	return s
}

// Incident is a scripted alarm: a smoke detector going off and clearing,
// or a door opened after hours and closed.
type Incident struct {
	Kind     string // "smoke" or "door"
	Facility string
	At, For  time.Duration
}

// Incident kinds and the rules they must fire.
const (
	IncidentSmoke = "smoke"
	IncidentDoor  = "door"
)

// Rule is the alerting rule an incident fires.
func (i Incident) Rule() string {
	if i.Kind == IncidentSmoke {
		return "smoke_alarm"
	}
	return "door_open_after_hours"
}

// Schedule is what a run does, drawn from its seed.
type Schedule struct {
	Faults    []Fault
	Incidents []Incident
}

// target is what Plan needs to know of a facility.
type target struct {
	ID       string
	Layout   string
	PowerCut bool
	Tmpfs    bool
	Shard    int
}

// profile holds the bounds of a schedule: a short run (the test suite's
// three minutes) has short outages and fits every kind once; a long one
// has outages like the ones production sees and covers every kind on each
// layout.
type profile struct {
	gap, kill                                      [2]time.Duration
	influx, centreStop, uplink, spool, restart, hs [2]time.Duration
	floodMessages                                  [2]int
	incidentFor                                    [2]time.Duration
	incidentGap                                    [2]time.Duration
	perLayout                                      bool
}

// maxOutage bounds every outage of the profile: incidents last longer, so
// each is noticed live whatever overlaps it.
func (p profile) maxOutage() time.Duration {
	return max(p.influx[1], p.centreStop[1], p.uplink[1], p.spool[1], p.kill[1])
}

var (
	shortProfile = profile{
		gap: [2]time.Duration{2 * time.Second, 4 * time.Second}, kill: [2]time.Duration{0, 3 * time.Second},
		influx: [2]time.Duration{8 * time.Second, 12 * time.Second}, centreStop: [2]time.Duration{8 * time.Second, 12 * time.Second},
		uplink: [2]time.Duration{5 * time.Second, 10 * time.Second}, spool: [2]time.Duration{5 * time.Second, 10 * time.Second},
		restart: [2]time.Duration{0, 2 * time.Second}, hs: [2]time.Duration{3 * time.Second, 5 * time.Second},
		floodMessages: [2]int{2000, 4000},
		incidentFor:   [2]time.Duration{60 * time.Second, 70 * time.Second}, incidentGap: [2]time.Duration{5 * time.Second, 15 * time.Second},
	}
	longProfile = profile{
		gap: [2]time.Duration{10 * time.Second, 30 * time.Second}, kill: [2]time.Duration{0, 10 * time.Second},
		influx: [2]time.Duration{30 * time.Second, 120 * time.Second}, centreStop: [2]time.Duration{30 * time.Second, 180 * time.Second},
		uplink: [2]time.Duration{10 * time.Second, 120 * time.Second}, spool: [2]time.Duration{10 * time.Second, 60 * time.Second},
		restart: [2]time.Duration{0, 10 * time.Second}, hs: [2]time.Duration{5 * time.Second, 10 * time.Second},
		floodMessages: [2]int{5000, 20000},
		incidentFor:   [2]time.Duration{240 * time.Second, 270 * time.Second}, incidentGap: [2]time.Duration{10 * time.Second, 60 * time.Second},
		perLayout: true,
	}
)

// recoverAllowance is what Plan reckons a fault takes beyond its For to
// recover (a restart delay and a reconnect); the executor waits for the
// real thing.
const recoverAllowance = 4 * time.Second

// Plan draws the schedule of a run of length d from seed: faults one at a
// time covering every kind at least once (per layout in a long run, and a
// gateway kill and a power cut on each layout always), then more drawn at
// random while time is left; incidents in every facility, each longer than
// any outage.
func Plan(seed int64, d time.Duration, targets []target) Schedule {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x63686173)) // "chas"
	p := shortProfile
	if d >= 10*time.Minute {
		p = longProfile
	}
	byLayout := map[string][]target{}
	for _, t := range targets {
		byLayout[t.Layout] = append(byLayout[t.Layout], t)
	}
	pick := func(layout string, keep func(target) bool) target {
		var c []target
		for _, t := range byLayout[layout] {
			if keep(t) {
				c = append(c, t)
			}
		}
		return c[rng.IntN(len(c))]
	}
	anyTarget := func(target) bool { return true }
	layouts := []string{layoutMosquitto, layoutEmbedded}
	anyLayout := func() string { return layouts[rng.IntN(2)] }
	dur := func(b [2]time.Duration) time.Duration {
		if b[1] <= b[0] {
			return b[0]
		}
		return b[0] + time.Duration(rng.Int64N(int64(b[1]-b[0])))
	}
	perFacility := func(k FaultKind, layout string) Fault {
		f := Fault{Kind: k, Layout: layout}
		keep := anyTarget
		switch k {
		case PowerCut:
			keep = func(t target) bool { return t.PowerCut }
			f.Variant = cutVariants[rng.IntN(len(cutVariants))]
			f.For = dur(p.kill)
		case SpoolFull:
			keep = func(t target) bool { return t.Tmpfs }
			f.For = dur(p.spool)
		case GatewayKill:
			f.For = dur(p.kill)
		case LocalBrokerRestart:
			f.For = dur(p.restart)
		case UplinkCut:
			f.For = dur(p.uplink)
		case MalformedFlood:
			f.Variant = fmt.Sprint(p.floodMessages[0] + rng.IntN(p.floodMessages[1]-p.floodMessages[0]+1))
		}
		f.Target = pick(layout, keep).ID
		return f
	}
	central := func(k FaultKind) Fault {
		f := Fault{Kind: k}
		switch k {
		case CollectorKill:
			f.Target, f.For = fmt.Sprintf("collector-%d", 1+rng.IntN(2)), dur(p.kill)
		case AlertingKill:
			f.Target, f.For = fmt.Sprintf("alerting-%d", rng.IntN(shards)), dur(p.kill)
		case InfluxStop:
			f.For = dur(p.influx)
		case CentreRestart:
			f.For = dur(p.restart)
		case CentreStop:
			f.For = dur(p.centreStop)
		case HostileFacility:
			f.For = dur(p.hs)
		}
		return f
	}
	facilityKinds := []FaultKind{GatewayKill, PowerCut, LocalBrokerRestart, UplinkCut, SpoolFull, MalformedFlood}
	centralKinds := []FaultKind{CollectorKill, AlertingKill, InfluxStop, CentreRestart, CentreStop, HostileFacility}

	// Every kind once (every facility kind on each layout in a long run;
	// kills and power cuts on each layout always), in a random order.
	var base []Fault
	for _, k := range facilityKinds {
		if p.perLayout || k == GatewayKill || k == PowerCut {
			for _, l := range layouts {
				base = append(base, perFacility(k, l))
			}
		} else {
			base = append(base, perFacility(k, anyLayout()))
		}
	}
	for _, k := range centralKinds {
		base = append(base, central(k))
	}
	rng.Shuffle(len(base), func(i, j int) { base[i], base[j] = base[j], base[i] })

	var s Schedule
	const lead = 5 * time.Second
	end := d - 10*time.Second // the last fault leaves time to recover under load
	cursor := lead
	place := func(f Fault) bool {
		at := cursor + dur(p.gap)
		if at+f.For+recoverAllowance > end {
			return false
		}
		f.At = at
		s.Faults = append(s.Faults, f)
		cursor = at + f.For + recoverAllowance
		return true
	}
	for _, f := range base {
		if !place(f) {
			// A short run squeezes: drop the gaps, never a kind.
			f.At = cursor
			s.Faults = append(s.Faults, f)
			cursor += f.For + recoverAllowance
		}
	}
	for {
		var f Fault
		if rng.IntN(len(facilityKinds)+len(centralKinds)) < len(facilityKinds) {
			f = perFacility(facilityKinds[rng.IntN(len(facilityKinds))], anyLayout())
		} else {
			f = central(centralKinds[rng.IntN(len(centralKinds))])
		}
		if !place(f) {
			break
		}
	}

	// Incidents: in every facility, one after another, alternating kinds,
	// each longer than any outage plus the alerting service's replay
	// settle, so that whatever overlaps it, it is announced while it lasts.
	for i, t := range targets {
		at := lead + time.Duration(rng.Int64N(int64(20*time.Second)))
		kind := []string{IncidentSmoke, IncidentDoor}[i%2]
		for {
			for_ := dur(p.incidentFor)
			if at+for_ > d-5*time.Second {
				break
			}
			s.Incidents = append(s.Incidents, Incident{Kind: kind, Facility: t.ID, At: at, For: for_})
			at += for_ + dur(p.incidentGap)
			if kind == IncidentSmoke {
				kind = IncidentDoor
			} else {
				kind = IncidentSmoke
			}
		}
	}
	slices.SortFunc(s.Incidents, func(a, b Incident) int { return int(a.At - b.At) })

	// A delivery in doubt: an alerting instance killed while the provider
	// takes an SMS, armed just before an incident of a facility it owns.
	shardOf := map[string]int{}
	for _, t := range targets {
		shardOf[t.ID] = t.Shard
	}
	if len(s.Incidents) > 0 {
		inc := s.Incidents[rng.IntN(min(len(s.Incidents), 3))]
		s.Faults = append(s.Faults, Fault{Kind: AlertingKillAtSend, At: max(0, inc.At-time.Second), For: 30 * time.Second,
			Target: fmt.Sprintf("alerting-%d", shardOf[inc.Facility])})
		slices.SortStableFunc(s.Faults, func(a, b Fault) int { return int(a.At - b.At) })
	}
	return s
}
