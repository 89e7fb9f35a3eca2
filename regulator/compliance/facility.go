package compliance

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// facility computes one registered facility's hours in [from, to), tagged
// with its registered region. On failure it names the stage.
func (r *Roller) facility(ctx context.Context, rf *registry.Facility, from, to time.Time) ([]Hour, string, error) {
	cal, err := Calendar(r.opts.Rules, rf)
	if err != nil {
		return nil, "calendar", err
	}
	isOpen := cal.IsOpen
	j := newJudge(r.opts.Rules, rf, cal)
	f := FacilityOf(rf.ID, rf.Region)
	n := int(to.Sub(from) / time.Hour)
	hours := make([]Hour, n)
	for i := range hours {
		hours[i] = newHour(f, from.Add(time.Duration(i)*time.Hour))
	}
	hourOf := func(t time.Time) int { return int(t.Sub(from) / time.Hour) }

	// Open minutes, decided once: the hook may be a calendar lookup.
	minutes := int(to.Sub(from) / time.Minute)
	open := make([]bool, minutes)
	for m := range open {
		t := from.Add(time.Duration(m) * time.Minute)
		if open[m] = isOpen(t); open[m] {
			hours[hourOf(t)].Fields[model.FieldOpenMinutes]++
		}
	}
	where := fmt.Sprintf(`%q = %s AND %s`, model.TagFacility, influxql.Literal(f.ID), influxql.TimeRange(from, to))

	withData := make([]bool, minutes)
	for _, k := range model.ComplianceKinds {
		kind := k.String()
		series, err := r.opts.Query.Query(ctx, fmt.Sprintf(`SELECT mean(%q) FROM %q WHERE %s GROUP BY time(1m), %q fill(none)`,
			model.FieldValue, kind, where, model.TagRoom))
		if err != nil {
			return nil, "query", err
		}
		for _, s := range series {
			room := s.Tags[model.TagRoom]
			for _, row := range s.Values {
				t := influxql.Time(row[0])
				v, ok := influxql.Float(row[1])
				m := int(t.Sub(from) / time.Minute)
				if !ok || m < 0 || m >= minutes || !open[m] {
					continue
				}
				withData[m] = true
				h := &hours[hourOf(t)]
				h.Fields[model.ComplianceMinutesField(k)]++
				ok, err := j.within(kind, room, t, v)
				if err != nil {
					return nil, "rules", err
				}
				if ok {
					h.Fields[model.ComplianceOKField(k)]++
				}
			}
		}
	}
	// A device reporting every two minutes is complete, not half
	// complete: an open minute counts as covered when its DataSlot has a
	// reading.
	slot := int(DataSlot / time.Minute)
	for s0 := 0; s0 < minutes; s0 += slot {
		covered := false
		for m := s0; m < min(s0+slot, minutes); m++ {
			covered = covered || withData[m]
		}
		for m := s0; covered && m < min(s0+slot, minutes); m++ {
			if open[m] {
				hours[m/60].Fields[model.FieldDataMinutes]++
			}
		}
	}

	if err := r.cameras(ctx, f, from, to, open, hours); err != nil {
		return nil, "query", err
	}
	if err := r.alerts(ctx, where, from, hours); err != nil {
		return nil, "query", err
	}
	return hours, "", nil
}

// DataSlot is the span within which one reading makes every open minute
// "with data". Five minutes covers the usual sensor intervals (Zigbee
// climate sensors report every 1-5 minutes) while an outage of a gateway
// still shows.
const DataSlot = 5 * time.Minute

// stateChange is one 1/0 state event of a device.
type stateChange struct {
	at time.Time
	on bool
}

// cameras counts, for every open minute, each known camera's state at the
// start of the minute. State is written only on change, so the state
// before from comes from the last event before it.
func (r *Roller) cameras(ctx context.Context, f Facility, from, to time.Time, open []bool, hours []Hour) error {
	kinds := []struct{ measurement, field string }{
		{model.KindCameraOnline.String(), model.FieldCameraOnlineMinutes},
		{model.KindCameraRecording.String(), model.FieldCameraRecordingMinutes},
	}
	devices := map[string]bool{}
	states := map[string]map[string][]stateChange{}
	for _, k := range kinds {
		fac := fmt.Sprintf(`%q = %s`, model.TagFacility, influxql.Literal(f.ID))
		before, err := r.opts.Query.Query(ctx, fmt.Sprintf(`SELECT last("value") FROM %q WHERE %s AND time < %d GROUP BY "device"`, k.measurement, fac, from.UnixNano()))
		if err != nil {
			return err
		}
		during, err := r.opts.Query.Query(ctx, fmt.Sprintf(`SELECT "value" FROM %q WHERE %s AND %s GROUP BY "device"`, k.measurement, fac, influxql.TimeRange(from, to)))
		if err != nil {
			return err
		}
		byDevice := map[string][]stateChange{}
		for _, s := range append(before, during...) {
			dev := s.Tags[model.TagDevice]
			devices[dev] = true
			for _, row := range s.Values {
				v, _ := influxql.Float(row[1])
				t := influxql.Time(row[0])
				if t.Before(from) {
					t = from.Add(-time.Nanosecond) // last() reports its point's time; only order matters
				}
				byDevice[dev] = append(byDevice[dev], stateChange{at: t, on: v >= 0.5})
			}
		}
		for dev := range byDevice {
			sort.SliceStable(byDevice[dev], func(i, j int) bool { return byDevice[dev][i].at.Before(byDevice[dev][j].at) })
		}
		states[k.measurement] = byDevice
	}
	for m, isOpen := range open {
		if !isOpen {
			continue
		}
		t := from.Add(time.Duration(m) * time.Minute)
		h := &hours[m/60]
		h.Fields[model.FieldCameraMinutes] += float64(len(devices))
		for _, k := range kinds {
			for _, changes := range states[k.measurement] {
				if stateAt(changes, t) {
					h.Fields[k.field]++
				}
			}
		}
	}
	return nil
}

// stateAt is the last state at or before t; false before any event (a
// camera never heard from is not online).
func stateAt(changes []stateChange, t time.Time) bool {
	i := sort.Search(len(changes), func(i int) bool { return changes[i].at.After(t) })
	return i > 0 && changes[i-1].on
}

// alerts counts alert events per hour of their own time (all day, not only
// opening hours: an alert at night is still handled or not).
func (r *Roller) alerts(ctx context.Context, where string, from time.Time, hours []Hour) error {
	queries := []struct {
		q              string
		count, sumName string
	}{
		{fmt.Sprintf(`SELECT count(%q) FROM %q WHERE %s AND %q = 'firing' GROUP BY time(1h) fill(none)`,
			model.FieldValue, model.MeasurementAlertEvent, where, model.TagState), model.FieldAlertsFired, ""},
		{fmt.Sprintf(`SELECT count(%[1]q), sum(%[1]q) FROM %[2]q WHERE %[3]s AND %[4]q = 'acknowledged' GROUP BY time(1h) fill(none)`,
			model.FieldAckSeconds, model.MeasurementAlertEvent, where, model.TagState), model.FieldAcknowledged, model.FieldAckSecondsSum},
		{fmt.Sprintf(`SELECT count(%[1]q), sum(%[1]q) FROM %[2]q WHERE %[3]s AND %[4]q = 'resolved' GROUP BY time(1h) fill(none)`,
			model.FieldResolveSeconds, model.MeasurementAlertEvent, where, model.TagState), model.FieldResolved, model.FieldResolveSecondsSum},
	}
	for _, q := range queries {
		series, err := r.opts.Query.Query(ctx, q.q)
		if err != nil {
			return err
		}
		for _, s := range series {
			for _, row := range s.Values {
				i := int(influxql.Time(row[0]).Sub(from) / time.Hour)
				if i < 0 || i >= len(hours) {
					continue
				}
				c, _ := influxql.Float(row[1])
				hours[i].Fields[q.count] += c
				if q.sumName != "" && len(row) > 2 {
					v, _ := influxql.Float(row[2])
					hours[i].Fields[q.sumName] += v
				}
			}
		}
	}
	return nil
}
