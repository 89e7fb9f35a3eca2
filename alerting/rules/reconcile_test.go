package rules

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/model"
)

// recorder keeps every transition an engine call returned.
type recorder struct {
	t   *testing.T
	all []Transition
}

func (r *recorder) add(trs []Transition) []Transition {
	for _, tr := range trs {
		r.t.Logf("%s %s/%s %s->%s notify=%v actor=%q at %s", tr.Alert.Rule, tr.Alert.Room, tr.Alert.Device, tr.From, tr.To,
			tr.Notify, tr.Actor, tr.At.Format(time.TimeOnly))
	}
	r.all = append(r.all, trs...)
	return trs
}

// of returns the transitions of rule about device.
func (r *recorder) of(rule, device string) []Transition {
	var out []Transition
	for _, tr := range r.all {
		if tr.Alert.Rule == rule && tr.Alert.Device == device {
			out = append(out, tr)
		}
	}
	return out
}

func hasTransition(trs []Transition, to State, notify bool, actor string) bool {
	return slices.ContainsFunc(trs, func(tr Transition) bool { return tr.To == to && tr.Notify == notify && tr.Actor == actor })
}

// TestRegistryChangesReachTheEngine drives one facility through the
// registry changes of a working day, without a restart: a device added, a
// device's interval changed, a device with an open alert removed, a
// gateway removed while it is reported offline, the opening hours changed.
// What still exists keeps its state (the hourly CO2 mean goes on); what no
// longer exists is resolved (notified when its firing was) and raises
// nothing more.
func TestRegistryChangesReachTheEngine(t *testing.T) {
	start := at(2026, 5, 12, 8, 0) // Tuesday, open 07:30-18:00
	clk := &fakeClock{start}
	reg := prometheus.NewRegistry()
	e := New(Options{Rules: loadRules(t), Clock: clk.Now, Registerer: reg})
	rec := &recorder{t: t}
	f := testFacility("F1")
	f.Gateways = []string{"gw1", "gw2"}
	if err := e.AddFacility(f); err != nil {
		t.Fatal(err)
	}
	update := func(f Facility) {
		t.Helper()
		trs, err := e.UpdateFacility(f)
		if err != nil {
			t.Fatal(err)
		}
		rec.add(trs)
	}
	// minute advances the clock to start+m, sends what gw1 carries (CO2 at
	// co2, the thermometers) and ticks.
	minute := func(m int, co2 float64, extra ...model.Reading) {
		clk.t = start.Add(time.Duration(m) * time.Minute)
		rs := []model.Reading{
			{Device: "co2-1", Room: "r1", Kind: model.KindCO2, Time: clk.t, Value: co2},
			{Device: "th-1", Room: "r1", Kind: model.KindTemperature, Time: clk.t, Value: 23},
			{Device: "th-1", Room: "r1", Kind: model.KindHumidity, Time: clk.t, Value: 50},
			{Device: "th-2", Room: "r2", Kind: model.KindTemperature, Time: clk.t, Value: 23},
		}
		rec.add(e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Readings: append(rs, extra...)}))
		rec.add(e.ObserveStatus(model.Status{Facility: "F1", Gateway: "gw2", State: model.GatewayOnline}, clk.t))
		rec.add(e.Tick(clk.t))
	}
	for m := range 20 {
		minute(m, 1200)
	}

	// 1. A particle sensor is added at minute 20: its readings are judged,
	// and its absence clock starts now, not at the facility's start.
	// A formaldehyde sensor added at the same time never reports: it is
	// silent ten minutes (min_silence) after it was registered.
	f.Devices = append(f.Devices, model.Device{ID: "aq-1", Room: "r1", Kinds: []model.Kind{model.KindPM25}, Interval: time.Minute},
		model.Device{ID: "hcho-1", Room: "r1", Kinds: []model.Kind{model.KindHCHO}, Interval: time.Minute})
	clk.t = start.Add(20 * time.Minute)
	update(f)
	minute(20, 1200, model.Reading{Device: "aq-1", Room: "r1", Kind: model.KindPM25, Time: clk.t, Value: 30})
	if a, ok := e.Alert(Fingerprint("pm25_daily", "F1", "r1", "aq-1")); !ok {
		t.Fatal("the added device's pm25_daily is not evaluated")
	} else if a.State != Inactive {
		t.Fatalf("pm25_daily %s", a.State)
	}
	// The hourly CO2 mean kept its twenty minutes: it fires at minute 29,
	// as without the change.
	for m := 21; m < 35; m++ {
		minute(m, 1200, model.Reading{Device: "aq-1", Room: "r1", Kind: model.KindPM25, Time: clk.t, Value: 30})
	}
	if never := rec.of("device_silent", "hcho-1"); len(never) != 1 || !never[0].At.Equal(start.Add(31*time.Minute)) {
		t.Fatalf("device_silent of the added hcho-1: %+v, want firing at minute 31 (ten minutes after it was registered)", never)
	}
	co2 := rec.of("co2_hourly", "co2-1")
	if len(co2) == 0 || co2[len(co2)-1].To != Firing || !co2[len(co2)-1].At.Equal(start.Add(29*time.Minute)) || !co2[len(co2)-1].Notify {
		t.Fatalf("co2_hourly after the update: %+v, want firing at minute 29, notified", co2)
	}

	// 2. th-2 stops at minute 35. With its one-minute interval it would be
	// silent after 10 minutes (minute 45); the registry changes its interval
	// to 10 minutes at minute 36, so it is silent after 50 (minute 85).
	f.Devices[2].Interval = 10 * time.Minute
	send := func(m int) {
		clk.t = start.Add(time.Duration(m) * time.Minute)
		rec.add(e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Readings: []model.Reading{
			{Device: "co2-1", Room: "r1", Kind: model.KindCO2, Time: clk.t, Value: 1200},
			{Device: "th-1", Room: "r1", Kind: model.KindTemperature, Time: clk.t, Value: 23},
			{Device: "aq-1", Room: "r1", Kind: model.KindPM25, Time: clk.t, Value: 30}}}))
		rec.add(e.ObserveStatus(model.Status{Facility: "F1", Gateway: "gw2", State: model.GatewayOnline}, clk.t))
		rec.add(e.Tick(clk.t))
	}
	send(35)
	update(f)
	for m := 36; m <= 90; m++ {
		send(m)
	}
	silent := rec.of("device_silent", "th-2")
	if len(silent) == 0 || silent[0].To != Firing || !silent[0].At.After(start.Add(84*time.Minute)) || silent[0].At.After(start.Add(86*time.Minute)) {
		t.Fatalf("device_silent of th-2 %+v, want firing at about minute 85 (the new interval)", silent)
	}

	// 3. th-2, silent and alerted, and co2-1, whose hourly mean fires, are
	// removed at minute 91: both alerts are resolved by the registry and
	// notified (they were announced); nothing about them comes again.
	f.Devices = slices.DeleteFunc(f.Devices, func(d model.Device) bool { return d.ID == "th-2" || d.ID == "co2-1" })
	clk.t = start.Add(91 * time.Minute)
	update(f)
	for _, c := range []struct{ rule, dev string }{{"device_silent", "th-2"}, {"co2_hourly", "co2-1"}} {
		trs := rec.of(c.rule, c.dev)
		if last := trs[len(trs)-1]; last.To != Resolved || !last.Notify || last.Actor != ActorRegistry {
			t.Fatalf("%s of the removed %s: %+v, want resolved by the registry and notified", c.rule, c.dev, last)
		}
		if _, ok := e.Alert(Fingerprint(c.rule, "F1", map[string]string{"th-2": "r2", "co2-1": "r1"}[c.dev], c.dev)); ok {
			t.Errorf("the engine still holds %s of the removed %s", c.rule, c.dev)
		}
	}

	// 4. gw2 goes silent at minute 92 and is alerted; the registry removes
	// it at minute 110: its alert is resolved, and it raises nothing more.
	// gw1 alone, with what is still registered, minutes from to to-1.
	gw1Only := func(from, to int) {
		for m := from; m < to; m++ {
			clk.t = start.Add(time.Duration(m) * time.Minute)
			rec.add(e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Readings: []model.Reading{
				{Device: "th-1", Room: "r1", Kind: model.KindTemperature, Time: clk.t, Value: 23},
				{Device: "aq-1", Room: "r1", Kind: model.KindPM25, Time: clk.t, Value: 30}}}))
			rec.add(e.Tick(clk.t))
		}
	}
	gw1Only(92, 110)
	gw := rec.of("gateway_offline", "gw2")
	if len(gw) == 0 || gw[0].To != Firing || !gw[0].Notify {
		t.Fatalf("gateway_offline of gw2: %+v, want firing", gw)
	}
	known := e.gatewaysKnown
	f.Gateways = []string{"gw1"}
	clk.t = start.Add(110 * time.Minute)
	update(f)
	gw = rec.of("gateway_offline", "gw2")
	if last := gw[len(gw)-1]; last.To != Resolved || !last.Notify || last.Actor != ActorRegistry {
		t.Fatalf("gateway_offline of the removed gw2: %+v", last)
	}
	if e.gatewaysKnown != known-1 {
		t.Errorf("gateways known %d, want %d", e.gatewaysKnown, known-1)
	}
	n := len(rec.all)
	gw1Only(111, 130)
	for _, tr := range rec.all[n:] {
		if tr.Alert.Device == "gw2" || tr.Alert.Device == "th-2" || tr.Alert.Device == "co2-1" {
			t.Fatalf("a removed device or gateway raised %s %s", tr.Alert.Rule, tr.To)
		}
	}

	// 5. Opening hours: at 19:00 the facility is closed and the door opens:
	// door_open_after_hours fires. The registry extends the hours to 21:00
	// (and moves the facility to Urumqi's time zone, two hours behind: 19:00
	// in Beijing is 17:00 there): the same open door is now in opening
	// hours, and the after-hours alert resolves at the next tick.
	evening := at(2026, 5, 12, 19, 0)
	clk.t = evening
	rec.add(e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Readings: []model.Reading{
		{Device: "door-1", Room: "r1", Kind: model.KindDoor, Time: evening, Value: 1}}}))
	door := rec.of("door_open_after_hours", "door-1")
	if len(door) != 1 || door[0].To != Firing {
		t.Fatalf("door at 19:00: %+v, want door_open_after_hours firing", door)
	}
	f.OpeningHours = []string{"mon-fri 07:30-21:00"}
	f.Location = mustZone("Asia/Urumqi")
	update(f)
	if door = rec.of("door_open_after_hours", "door-1"); len(door) != 1 {
		t.Fatalf("the update itself changed door_open_after_hours: %+v", door)
	}
	clk.t = evening.Add(time.Second)
	e.gateways(t, "F1", clk.t)
	rec.add(e.Tick(clk.t))
	door = rec.of("door_open_after_hours", "door-1")
	if last := door[len(door)-1]; last.To != Resolved || !last.Notify || last.Actor != "" {
		t.Fatalf("door_open_after_hours in the new opening hours: %+v, want resolved by the rule", door)
	}
	if got := testutil.ToFloat64(e.m.retired.WithLabelValues("resolved")); got != 3 {
		t.Errorf("retired resolved %v, want 3", got)
	}
	if got := testutil.ToFloat64(e.m.facilities); got != 1 {
		t.Errorf("facilities gauge %v", got)
	}
}

// TestUpdateKeepsPendingAndLearnt: an update in the middle of a `for`
// keeps the timer; a pending alert of a removed device goes back to
// inactive, recorded, nobody told; a device and a gateway learnt from
// traffic stay; a refused record changes nothing.
func TestUpdateKeepsPendingAndLearnt(t *testing.T) {
	start := at(2026, 5, 12, 9, 0)
	e, clk := newEngine(t, start)
	rec := &recorder{t: t}
	reading := func(dev, room string, k model.Kind, v float64) {
		rec.add(e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Readings: []model.Reading{
			{Device: dev, Room: room, Kind: k, Time: clk.t, Value: v}}}))
	}
	// temperature_range: for 15 min. th-1 goes to 30 °C at 09:00, th-2 too.
	reading("th-1", "r1", model.KindTemperature, 30)
	reading("th-2", "r2", model.KindTemperature, 30)
	reading("learnt-1", "r1", model.KindCO2, 500)
	rec.add(e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw-learnt"}))
	clk.t = start.Add(5 * time.Minute)
	f := testFacility("F1")
	f.Devices = slices.DeleteFunc(f.Devices, func(d model.Device) bool { return d.ID == "th-2" })
	trs, err := e.UpdateFacility(f)
	if err != nil {
		t.Fatal(err)
	}
	rec.add(trs)
	if !hasTransition(rec.of("temperature_range", "th-2"), Inactive, false, ActorRegistry) {
		t.Fatalf("pending alert of the removed th-2: %+v", rec.of("temperature_range", "th-2"))
	}
	if e.fac["F1"].devices["learnt-1"] == nil || e.fac["F1"].gateways["gw-learnt"] == nil {
		t.Fatal("a device or gateway learnt from traffic was forgotten")
	}
	for m := 6; m <= 15; m++ {
		clk.t = start.Add(time.Duration(m) * time.Minute)
		reading("th-1", "r1", model.KindTemperature, 30)
	}
	th := rec.of("temperature_range", "th-1")
	if last := th[len(th)-1]; last.To != Firing || !last.At.Equal(start.Add(15*time.Minute)) {
		t.Fatalf("temperature_range of th-1: %+v, want firing at 09:15 (the `for` counted across the update)", th)
	}
	bad := testFacility("F1")
	bad.OpeningHours = []string{"someday 25:00-26:00"}
	if _, err := e.UpdateFacility(bad); err == nil {
		t.Fatal("a record whose hours do not parse was applied")
	}
	if a, ok := e.Alert(th[0].Alert.Fingerprint); !ok || a.State != Firing {
		t.Fatal("a refused update lost the facility's state")
	}
	if _, err := e.UpdateFacility(testFacility("F2")); err == nil {
		t.Fatal("updating a facility never added")
	}
}

// TestRemoveFacilityAndUnlistedRestored: a facility the registry drops
// ends its alerts; a restored alert of a device the registry dropped while
// the service was down is resolved at start.
func TestRemoveFacilityAndUnlistedRestored(t *testing.T) {
	start := at(2026, 5, 12, 20, 0) // closed
	e, clk := newEngine(t, start)
	e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Readings: []model.Reading{
		{Device: "door-1", Room: "r1", Kind: model.KindDoor, Time: start, Value: 1}}})
	alerts := e.Alerts()
	door, _ := e.Alert(Fingerprint("door_open_after_hours", "F1", "r1", "door-1"))
	if door.State != Firing {
		t.Fatalf("door_open_after_hours %s", door.State)
	}
	// A restart with door-1 gone from the registry.
	n := New(Options{Rules: e.rs, Clock: clk.Now})
	f := testFacility("F1")
	f.Devices = slices.DeleteFunc(f.Devices, func(d model.Device) bool { return d.ID == "door-1" })
	if err := n.AddFacility(f); err != nil {
		t.Fatal(err)
	}
	n.Restore(alerts)
	trs := n.RetireUnlisted()
	if len(trs) != 1 || trs[0].Alert.Fingerprint != door.Fingerprint || trs[0].To != Resolved || !trs[0].Notify || trs[0].Actor != ActorRegistry {
		t.Fatalf("restored alert of the dropped door: %+v", trs)
	}
	// The facility itself is dropped: its firing door alert is resolved,
	// and its readings are refused.
	trs = e.RemoveFacility("F1")
	if !hasTransition(trs, Resolved, true, ActorRegistry) {
		t.Fatalf("removing the facility: %+v", trs)
	}
	if got := e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Readings: []model.Reading{
		{Device: "door-1", Room: "r1", Kind: model.KindDoor, Time: start, Value: 1}}}); got != nil || len(e.Alerts()) != 0 || len(e.fac) != 0 {
		t.Fatalf("the removed facility is still evaluated: %+v %+v", got, e.Alerts())
	}
	if len(e.RemoveFacility("F1")) != 0 {
		t.Fatal("removing twice")
	}
}
