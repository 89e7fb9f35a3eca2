package integration

import (
	"sort"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
	"github.com/cradlewatch/cradlewatch/regulator/compliance"
	"github.com/cradlewatch/cradlewatch/regulator/internal/seed"
)

// expectedHours recomputes compliance_hourly from the seeded values in Go,
// without InfluxDB: minute means per room, state at each minute start.
func expectedHours(t *testing.T, d *seed.Data, rs *rules.RuleSet, reg *registry.Registry) map[string]map[int64]map[string]float64 {
	// Every seeded facility opens by the rule set's default hours, the
	// same calendar for all.
	cal, err := compliance.Calendar(rs, reg.Snapshot().Facilities()[0])
	if err != nil {
		t.Fatal(err)
	}
	isOpen := cal.IsOpen
	within := func(fac, room, kind string, at time.Time, v float64) bool {
		f := reg.Snapshot().Facility(fac)
		l, err := rs.RoomLimits(fac, room, f.RoomType(room), cal)
		if err != nil {
			t.Fatal(err)
		}
		k, _ := model.ParseKind(kind)
		return l.Within(k, at, v)
	}
	out := map[string]map[int64]map[string]float64{}
	get := func(fac string, t time.Time) map[string]float64 {
		h := t.Truncate(time.Hour).Unix()
		if out[fac] == nil {
			out[fac] = map[int64]map[string]float64{}
		}
		if out[fac][h] == nil {
			out[fac][h] = map[string]float64{}
		}
		return out[fac][h]
	}
	type key struct {
		fac, room, kind string
		minute          int64
	}
	sums, counts := map[key]float64{}, map[key]float64{}
	dataMinute := map[string]map[int64]bool{}
	cams := map[string]map[string][]seed.Reading{} // facility -> device/kind -> events
	for _, r := range d.Readings {
		switch r.Kind {
		case "temperature", "humidity", "co2", "pm25", "hcho":
			if r.Time.Before(d.From) || !r.Time.Before(d.To) {
				continue
			}
			k := key{r.Facility, r.Room, r.Kind, r.Time.Truncate(time.Minute).Unix()}
			sums[k] += r.Value
			counts[k]++
		case "camera_online", "camera_recording":
			if cams[r.Facility] == nil {
				cams[r.Facility] = map[string][]seed.Reading{}
			}
			cams[r.Facility][r.Device+"/"+r.Kind] = append(cams[r.Facility][r.Device+"/"+r.Kind], r)
		}
	}
	for k, s := range sums {
		t := time.Unix(k.minute, 0)
		if !isOpen(t) {
			continue
		}
		h := get(k.fac, t)
		kind, _ := model.ParseKind(k.kind)
		h[model.ComplianceMinutesField(kind)]++
		if within(k.fac, k.room, k.kind, t, s/counts[k]) {
			h[model.ComplianceOKField(kind)]++
		}
		if dataMinute[k.fac] == nil {
			dataMinute[k.fac] = map[int64]bool{}
		}
		dataMinute[k.fac][k.minute] = true
	}
	for fac, ms := range dataMinute {
		for t := d.From; t.Before(d.To); t = t.Add(time.Minute) {
			slot := d.From.Add(t.Sub(d.From).Truncate(compliance.DataSlot))
			covered := false
			for m := slot; m.Before(slot.Add(compliance.DataSlot)); m = m.Add(time.Minute) {
				covered = covered || ms[m.Unix()]
			}
			if covered && isOpen(t) {
				get(fac, t)[model.FieldDataMinutes]++
			}
		}
	}
	for t := d.From; t.Before(d.To); t = t.Add(time.Minute) {
		if !isOpen(t) {
			continue
		}
		for _, f := range d.Facilities {
			h := get(f.ID, t)
			h[model.FieldOpenMinutes]++
			devs := map[string]bool{}
			for _, evs := range cams[f.ID] {
				devs[evs[0].Device] = true
				on := false
				for _, ev := range evs { // sorted by time in seed
					if ev.Time.After(t) {
						break
					}
					on = ev.Value == 1
				}
				if on {
					if evs[0].Kind == "camera_online" {
						h[model.FieldCameraOnlineMinutes]++
					} else {
						h[model.FieldCameraRecordingMinutes]++
					}
				}
			}
			h[model.FieldCameraMinutes] += float64(len(devs))
		}
	}
	for _, a := range d.Alerts {
		h := get(a.Facility, a.Time)
		switch a.State {
		case "firing":
			h[model.FieldAlertsFired]++
		case "acknowledged":
			h[model.FieldAcknowledged]++
			h[model.FieldAckSecondsSum] += a.AckSeconds
		case "resolved":
			h[model.FieldResolved]++
			h[model.FieldResolveSecondsSum] += a.ResolveSeconds
		}
	}
	return out
}

func testCompliance(t *testing.T, e *env) {
	want := expectedHours(t, e.data, e.rs, e.reg)
	if got, n := len(e.hours), len(e.data.Facilities)*7*24; got != n {
		t.Fatalf("%d facility-hours, want %d", got, n)
	}
	mismatches := 0
	for _, h := range e.hours {
		w := want[h.Facility.ID][h.Start.Unix()]
		names := make([]string, 0, len(h.Fields))
		for k := range h.Fields {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if h.Fields[k] != w[k] {
				if mismatches++; mismatches <= 20 {
					t.Errorf("%s %s %s = %v, computed from the raw readings %v", h.Facility.ID, h.Start.In(e.loc).Format("01-02 15:04"), k, h.Fields[k], w[k])
				}
			}
		}
	}
	// The seed must exercise the figures, not only match zeros.
	var total = map[string]float64{}
	for _, h := range e.hours {
		for k, v := range h.Fields {
			total[k] += v
		}
	}
	for _, k := range []string{model.ComplianceOKField(model.KindCO2), model.ComplianceMinutesField(model.KindCO2), model.FieldCameraOnlineMinutes, model.FieldAlertsFired, model.FieldResolveSecondsSum} {
		if total[k] == 0 {
			t.Errorf("seeded week gives no %s: the test proves nothing", k)
		}
	}
	if total[model.ComplianceOKField(model.KindTemperature)] == total[model.ComplianceMinutesField(model.KindTemperature)] {
		t.Error("every temperature minute within limits: the seed should cross them")
	}
	if total[model.FieldDataMinutes] >= total[model.FieldOpenMinutes] {
		t.Error("data completeness is 100 %: the seeded outage is not seen")
	}
}
