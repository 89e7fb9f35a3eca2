package rules

import (
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// outage is the scenario of the backlog tests: the facility's gateway could
// not reach the centre from 21:55 to 22:10 on a Tuesday (closed hours);
// meanwhile a door opened at 22:00 and closed at 22:02, and the
// temperature sensor reported every minute. The backlog reaches the
// alerting service from 22:40 on.
var (
	outageFrom = at(2026, 5, 12, 21, 55)
	outageTo   = at(2026, 5, 12, 22, 10)
	backlogAt  = at(2026, 5, 12, 22, 40)
)

func outageReadings(doorCloses bool) []model.Reading {
	var rs []model.Reading
	for m := 0; m < 15; m++ {
		t := outageFrom.Add(time.Duration(m) * time.Minute)
		rs = append(rs, model.Reading{Device: "th-1", Room: "r1", Kind: model.KindTemperature, Time: t, Value: 23})
		switch {
		case m == 5:
			rs = append(rs, model.Reading{Device: "door-1", Room: "r1", Kind: model.KindDoor, Time: t, Value: 1})
		case m == 7 && doorCloses:
			rs = append(rs, model.Reading{Device: "door-1", Room: "r1", Kind: model.KindDoor, Time: t, Value: 0})
		}
	}
	return rs
}

// lanes says how the gateway marks its batches.
type lanes int

const (
	flagged  lanes = iota // backlog lane, draining until the last batch
	unmarked              // a gateway that does not flag its lanes: live lane, not draining
)

func (l lanes) String() string { return [...]string{"flagged", "unmarked"}[l] }

// backlogRun feeds an engine the outage's backlog split into the given
// batches (cut before each index in cuts), one second of processing time
// apart with a Tick after each, as a reconnecting gateway does: a live
// batch with the current temperature first, then the backlog. It returns
// every transition of facility F1, and the engine and clock to go on.
func backlogRun(t *testing.T, rs *RuleSet, l lanes, readings []model.Reading, cuts []int) ([]Transition, *Engine, *fakeClock) {
	t.Helper()
	clk := &fakeClock{outageFrom.Add(-time.Minute)}
	e := New(Options{Rules: rs, Clock: clk.Now})
	if err := e.AddFacility(testFacility("F1")); err != nil {
		t.Fatal(err)
	}
	var all []Transition
	keep := func(trs []Transition) {
		for _, tr := range trs {
			if tr.Alert.Facility == "F1" {
				all = append(all, tr)
			}
		}
	}
	// Before the outage the gateway is heard and the door closed (the
	// day's ventilation is judged then: not part of the test).
	clk.t = outageFrom.Add(-time.Minute)
	e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Readings: []model.Reading{
		{Device: "door-1", Room: "r1", Kind: model.KindDoor, Time: clk.t, Value: 0}}})
	// The centre is cut off: its own link to the broker is down.
	clk.t = outageFrom
	keep(e.CentreLost(clk.t))
	for tick := outageFrom; tick.Before(outageTo); tick = tick.Add(time.Minute) {
		clk.t = tick
		keep(e.Tick(tick))
	}
	clk.t = backlogAt
	keep(e.CentreBack(clk.t))
	send := func(b *model.Batch) {
		clk.t = clk.t.Add(time.Second)
		keep(e.ObserveBatch(b))
		keep(e.Tick(clk.t))
	}
	live := &model.Batch{Facility: "F1", Gateway: "gw1", Draining: l == flagged, Readings: []model.Reading{
		{Device: "th-1", Room: "r1", Kind: model.KindTemperature, Time: backlogAt, Value: 23}}}
	send(live)
	start := 0
	for i := 0; i <= len(cuts); i++ {
		end := len(readings)
		if i < len(cuts) {
			end = cuts[i]
		}
		b := &model.Batch{Facility: "F1", Gateway: "gw1", Readings: readings[start:end]}
		if l == flagged {
			b.Lane, b.Draining = model.LaneBacklog, i < len(cuts)
		}
		send(b)
		start = end
	}
	return all, e, clk
}

// partitions lists every way to cut n readings into consecutive batches
// (2^(n-1) of them), as cut positions.
func partitions(n int) [][]int {
	var out [][]int
	for mask := 0; mask < 1<<(n-1); mask++ {
		var cuts []int
		for i := 1; i < n; i++ {
			if mask&(1<<(i-1)) != 0 {
				cuts = append(cuts, i)
			}
		}
		out = append(out, cuts)
	}
	return out
}

// TestBacklogAcrossBatchBoundaries: a door opened and closed while the
// centre was unreachable must page nobody, whichever way the backlog is cut
// into batches, with the gateway flagging its lanes or not: the door's
// alert is recorded (firing and resolved, both silent) and no tick
// announces the half-replayed state. All 2^16 cuts of the 17-reading
// backlog are too many: the 8 readings around the door's two are cut
// every way (the rest in one batch before and one after), the whole
// backlog into two at every boundary, and into single readings.
func TestBacklogAcrossBatchBoundaries(t *testing.T) {
	rs := loadRules(t)
	readings := outageReadings(true)
	// Every partition of the 8 readings around the door's two (indexes
	// 8..15), with the rest as one batch before and one after.
	const lo, hi = 8, 16
	var cutsList [][]int
	for _, inner := range partitions(hi - lo) {
		cuts := []int{lo}
		for _, c := range inner {
			cuts = append(cuts, lo+c)
		}
		cutsList = append(cutsList, append(cuts, hi))
	}
	// And across the whole backlog: two batches cut at every boundary, and
	// every reading a batch of its own.
	var every []int
	for i := 1; i < len(readings); i++ {
		cutsList = append(cutsList, []int{i})
		every = append(every, i)
	}
	cutsList = append(cutsList, every)
	for _, l := range []lanes{flagged, unmarked} {
		runs := 0
		for _, cuts := range cutsList {
			trs, e, clk := backlogRun(t, rs, l, readings, cuts)
			door := 0
			for _, tr := range trs {
				if tr.Notify {
					t.Fatalf("%s, cuts %v: %s %s->%s notified at %s", l, cuts, tr.Alert.Rule, tr.From, tr.To, tr.At.Format(time.TimeOnly))
				}
				if tr.Alert.Rule == "door_open_after_hours" {
					door++
				}
			}
			if door != 2 {
				t.Fatalf("%s, cuts %v: %d door transitions recorded, want firing and resolved: %+v", l, cuts, door, trs)
			}
			// Long after the backlog, with the gateway sending live
			// readings: still nothing to say.
			for i := 0; i < 10; i++ {
				clk.t = clk.t.Add(time.Minute)
				e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Readings: []model.Reading{
					{Device: "th-1", Room: "r1", Kind: model.KindTemperature, Time: clk.t, Value: 23},
					{Device: "th-2", Room: "r2", Kind: model.KindTemperature, Time: clk.t, Value: 23},
					{Device: "co2-1", Room: "r1", Kind: model.KindCO2, Time: clk.t, Value: 600}}})
				for _, tr := range e.Tick(clk.t) {
					if tr.Notify && tr.Alert.Facility == "F1" {
						t.Fatalf("%s, cuts %v: %s notified at %s after the backlog", l, cuts, tr.Alert.Rule, clk.t.Format(time.TimeOnly))
					}
				}
			}
			runs++
		}
		t.Logf("%s lanes: %d ways of cutting the backlog, nothing notified", l, runs)
	}
}

// TestBacklogStillOpenAnnouncedOnceCaughtUp: a door that opened during the
// outage and is still open is announced, once, after the backlog is in
// (the gateway no longer draining and replay_settle passed), not while it
// is arriving.
func TestBacklogStillOpenAnnouncedOnceCaughtUp(t *testing.T) {
	rs := loadRules(t)
	readings := outageReadings(false)
	for _, l := range []lanes{flagged, unmarked} {
		t.Run(l.String(), func(t *testing.T) {
			trs, e, clk := backlogRun(t, rs, l, readings, []int{3, 6, 9, 12})
			for _, tr := range trs {
				if tr.Notify {
					t.Fatalf("notified while the backlog arrived: %s %s->%s", tr.Alert.Rule, tr.From, tr.To)
				}
			}
			last := clk.t
			var announced []Transition
			for clk.t.Before(last.Add(2 * DefaultReplaySettle)) {
				clk.t = clk.t.Add(time.Second)
				for _, tr := range e.Tick(clk.t) {
					if tr.Notify {
						announced = append(announced, tr)
						if clk.t.Before(last.Add(DefaultReplaySettle - time.Second)) {
							t.Errorf("announced %s before the backlog settled", clk.t.Sub(last))
						}
					}
				}
			}
			if len(announced) != 1 || announced[0].Alert.Rule != "door_open_after_hours" || announced[0].To != Firing {
				t.Fatalf("want the open door announced once: %+v", announced)
			}
		})
	}
}

// TestReplayedResolutionOfAnnouncedAlert: a smoke alarm announced live,
// then the uplink fails and the smoke clears during the outage: the
// clearing reading arrives as replay, and its resolution is notified, so
// the escalation closes.
func TestReplayedResolutionOfAnnouncedAlert(t *testing.T) {
	start := at(2026, 5, 12, 10, 0)
	for _, l := range []lanes{flagged, unmarked} {
		t.Run(l.String(), func(t *testing.T) {
			e, clk := newEngine(t, start)
			smoke := func(t0 time.Time, v float64) model.Reading {
				return model.Reading{Device: "smoke-1", Room: "r1", Kind: model.KindSmoke, Time: t0, Value: v}
			}
			trs := e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Readings: []model.Reading{smoke(start, 1)}})
			if tr, ok := find(trs, "smoke_alarm", "smoke-1"); !ok || tr.To != Firing || !tr.Notify {
				t.Fatalf("live smoke not announced: %+v", trs)
			}
			// The uplink is down for 20 minutes; the smoke cleared at 10:03.
			clk.t = start.Add(20 * time.Minute)
			b := &model.Batch{Facility: "F1", Gateway: "gw1", Readings: []model.Reading{smoke(start.Add(3*time.Minute), 0)}}
			if l == flagged {
				b.Lane, b.Draining = model.LaneBacklog, true
			}
			trs = e.ObserveBatch(b)
			tr, ok := find(trs, "smoke_alarm", "smoke-1")
			if !ok || tr.To != Resolved || !tr.Notify || !tr.At.Equal(start.Add(3*time.Minute)) {
				t.Fatalf("replayed resolution of an announced alert: %+v", trs)
			}
		})
	}
}

// TestLiveAlarmWhileDraining: a smoke alarm that goes off while the
// gateway is still draining an hour of backlog is announced at once: the
// backlog holds only older readings, which cannot change its verdict. A
// rolling mean judged on live readings waits until the backlog is in.
func TestLiveAlarmWhileDraining(t *testing.T) {
	now := at(2026, 5, 12, 10, 0)
	e, clk := newEngine(t, now)
	e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Lane: model.LaneBacklog, Draining: true, Readings: []model.Reading{
		{Device: "th-1", Room: "r1", Kind: model.KindTemperature, Time: now.Add(-time.Hour), Value: 23}}})
	clk.t = now.Add(time.Second)
	trs := e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Lane: model.LaneUrgent, Draining: true, Readings: []model.Reading{
		{Device: "smoke-1", Room: "r1", Kind: model.KindSmoke, Time: clk.t, Value: 1}}})
	if tr, ok := find(trs, "smoke_alarm", "smoke-1"); !ok || tr.To != Firing || !tr.Notify {
		t.Fatalf("live smoke alarm held back by a draining backlog: %+v", trs)
	}

	// CO2 far above the hourly limit on the live lane while draining: the
	// mean fires (recorded) but waits; once the gateway stops draining and
	// the settle time passed, the next live reading announces it.
	var fired, announced []Transition
	for m := 0; m <= 40; m++ {
		clk.t = now.Add(time.Duration(m) * time.Minute)
		draining := m < 35
		for _, tr := range e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Draining: draining, Readings: []model.Reading{
			{Device: "co2-1", Room: "r1", Kind: model.KindCO2, Time: clk.t, Value: 2000}}}) {
			if tr.Alert.Rule != "co2_hourly" {
				continue
			}
			if tr.To == Firing && tr.From != Firing {
				fired = append(fired, tr)
			}
			if tr.Notify {
				announced = append(announced, tr)
				if draining || clk.t.Before(now.Add(35*time.Minute)) {
					t.Fatalf("co2_hourly announced at minute %d while the backlog was arriving", m)
				}
			}
		}
	}
	if len(fired) != 1 || fired[0].Notify {
		t.Fatalf("want one silent firing while draining: %+v", fired)
	}
	if len(announced) != 1 || announced[0].From != Firing || announced[0].To != Firing {
		t.Fatalf("want one announcement once caught up: %+v", announced)
	}
}
