package console

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/regulator/report"
)

// record reads what the console shows from InfluxDB: gateway status, the
// last readings, a room's series, alert events and the compliance rollup.
// Every query is scoped by the registry's facility ID or region tag,
// which the console has authorised before asking.
type record struct {
	q report.Querier
}

func facilityWhere(id string) string {
	return fmt.Sprintf(`%q = %s`, model.TagFacility, influxql.Literal(id))
}

// regionWhere scopes to a region code ("" condition for the country) or
// to an operator's facilities.
func scopeWhere(s Scope) string {
	if len(s.Facilities) > 0 {
		var parts []string
		for _, f := range s.Facilities {
			parts = append(parts, facilityWhere(f))
		}
		return "(" + strings.Join(parts, " OR ") + ")"
	}
	tag, value, ok := s.Region.Tag()
	if !ok {
		return fmt.Sprintf(`%q =~ /./`, model.TagFacility)
	}
	return fmt.Sprintf(`%q = %s`, tag, influxql.Literal(value))
}

// gatewayState is a facility's connection as its gateways last reported.
type gatewayState struct {
	Known  bool      // a status was ever received
	Online bool      // some gateway said online, recently enough
	At     time.Time // the newest status
}

// gateways returns, per facility in scope, whether it is online: some
// gateway's last status says online and is not older than stale.
func (rc record) gateways(ctx context.Context, s Scope, now time.Time, stale time.Duration) (map[string]gatewayState, error) {
	series, err := rc.q.Query(ctx, fmt.Sprintf(`SELECT last(%q) FROM %q WHERE %s GROUP BY %q, %q`,
		model.FieldOnline, model.MeasurementGatewayStatus, scopeWhere(s), model.TagFacility, model.TagGateway))
	if err != nil {
		return nil, err
	}
	out := map[string]gatewayState{}
	for _, sr := range series {
		f := sr.Tags[model.TagFacility]
		for _, row := range sr.Values {
			at := influxql.Time(row[0])
			v, _ := influxql.Float(row[1])
			st := out[f]
			st.Known = true
			if at.After(st.At) {
				st.At = at
			}
			if v >= 0.5 && now.Sub(at) <= stale {
				st.Online = true
			}
			out[f] = st
		}
	}
	return out, nil
}

// reading is one last value.
type reading struct {
	Value float64
	At    time.Time
}

// lastReadings returns a facility's last value of each kind per room and
// device, within the last day.
func (rc record) lastReadings(ctx context.Context, facility string, kinds []model.Kind, now time.Time) (map[string]map[model.Kind]reading, error) {
	out := map[string]map[model.Kind]reading{}
	if len(kinds) == 0 {
		return out, nil
	}
	var from []string
	for _, k := range kinds {
		from = append(from, fmt.Sprintf("%q", k.String()))
	}
	series, err := rc.q.Query(ctx, fmt.Sprintf(`SELECT last(%q) FROM %s WHERE %s AND time > %d GROUP BY %q, %q`,
		model.FieldValue, strings.Join(from, ", "), facilityWhere(facility), now.Add(-24*time.Hour).UnixNano(), model.TagRoom, model.TagDevice))
	if err != nil {
		return nil, err
	}
	for _, sr := range series {
		k, err := model.ParseKind(sr.Name)
		if err != nil {
			continue
		}
		room := sr.Tags[model.TagRoom]
		for _, row := range sr.Values {
			v, ok := influxql.Float(row[1])
			if !ok {
				continue
			}
			at := influxql.Time(row[0])
			if out[room] == nil {
				out[room] = map[model.Kind]reading{}
			}
			// Two devices of one kind in a room: the newer reading.
			if prev, seen := out[room][k]; !seen || at.After(prev.At) {
				out[room][k] = reading{v, at}
			}
		}
	}
	return out, nil
}

// point is one bucket of a room's series.
type point struct {
	At    time.Time
	Value float64
}

// roomSeries returns a room's mean per bucket of every over [from, to).
func (rc record) roomSeries(ctx context.Context, facility, room string, k model.Kind, from, to time.Time, every time.Duration) ([]point, error) {
	series, err := rc.q.Query(ctx, fmt.Sprintf(`SELECT mean(%q) FROM %q WHERE %s AND %q = %s AND %s GROUP BY time(%ds) fill(none)`,
		model.FieldValue, k.String(), facilityWhere(facility), model.TagRoom, influxql.Literal(room), influxql.TimeRange(from, to), int(every.Seconds())))
	if err != nil {
		return nil, err
	}
	var out []point
	for _, sr := range series {
		for _, row := range sr.Values {
			if v, ok := influxql.Float(row[1]); ok {
				out = append(out, point{influxql.Time(row[0]), v})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// recordedAlerts rebuilds alerts from their alert_event transitions in
// [from, to): what the console shows of facilities whose alerting
// instance does not answer. Each firing starts an episode; the episode's
// later transitions are its history.
func (rc record) recordedAlerts(ctx context.Context, s Scope, from, to time.Time) ([]model.AlertView, error) {
	series, err := rc.q.Query(ctx, fmt.Sprintf(`SELECT * FROM %q WHERE %s AND %s`, model.MeasurementAlertEvent, scopeWhere(s), influxql.TimeRange(from, to)))
	if err != nil {
		return nil, err
	}
	type event struct {
		at                                   time.Time
		fp, rule, sev, state, fac, room, dev string
		actor, msg                           string
		value, limit                         float64
	}
	var evs []event
	for _, sr := range series {
		col := func(row []any, name string) any {
			if i := sr.Column(name); i >= 0 && i < len(row) {
				return row[i]
			}
			return nil
		}
		str := func(row []any, name string) string { v, _ := col(row, name).(string); return v }
		for _, row := range sr.Values {
			e := event{at: influxql.Time(row[0]), fp: str(row, model.FieldFingerprint), rule: str(row, model.TagRule),
				sev: str(row, model.TagSeverity), state: str(row, model.TagState), fac: str(row, model.TagFacility),
				room: str(row, model.TagRoom), dev: str(row, model.TagDevice), actor: str(row, model.FieldActor), msg: str(row, model.FieldMessage)}
			e.value, _ = influxql.Float(col(row, model.FieldValue))
			e.limit, _ = influxql.Float(col(row, model.FieldLimit))
			if e.fp != "" {
				evs = append(evs, e)
			}
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	open := map[string]*model.AlertView{}
	var out []*model.AlertView
	for _, e := range evs {
		a := open[e.fp]
		if e.state == "firing" && (a == nil || a.State == "resolved") {
			a = &model.AlertView{Fingerprint: e.fp, Rule: e.rule, Severity: e.sev, State: "firing", Facility: e.fac, Room: e.room,
				Device: e.dev, Kind: kindOfRule(e.rule), Value: e.value, Limit: e.limit, Message: e.msg, StartedAt: e.at, FiredAt: e.at}
			a.History = append(a.History, model.AlertTransition{At: e.at, From: "pending", To: "firing"})
			open[e.fp] = a
			out = append(out, a)
			continue
		}
		if a == nil || a.State == "resolved" {
			continue
		}
		a.History = append(a.History, model.AlertTransition{At: e.at, From: a.State, To: e.state, Actor: e.actor})
		switch e.state {
		case "acknowledged":
			a.AcknowledgedAt, a.AcknowledgedBy = e.at, e.actor
		case "resolved":
			a.ResolvedAt = e.at
		}
		a.State = e.state
	}
	alerts := make([]model.AlertView, len(out))
	for i, a := range out {
		if a.Unit == "" {
			if k, err := model.ParseKind(a.Kind); err == nil {
				a.Unit = k.Unit()
			}
		}
		alerts[i] = *a
	}
	return alerts, nil
}

// kindOfRule guesses the reading kind from a rule's name (co2_early →
// co2), for alerts rebuilt from the record, which does not store it.
func kindOfRule(rule string) string {
	for _, k := range model.Kinds() {
		if rule == k.String() || strings.HasPrefix(rule, k.String()+"_") {
			return k.String()
		}
	}
	return ""
}

// sums adds up compliance_hourly fields of a facility per month in loc,
// for the months starting at from (the first of a month in loc).
func (rc record) monthlyCompliance(ctx context.Context, facility string, from, to time.Time, loc *time.Location) (map[string]report.Totals, error) {
	series, err := rc.q.Query(ctx, fmt.Sprintf(`SELECT * FROM %q WHERE %s AND %s`, model.MeasurementComplianceHourly,
		facilityWhere(facility), influxql.TimeRange(from, to)))
	if err != nil {
		return nil, err
	}
	out := map[string]report.Totals{}
	for _, sr := range series {
		for _, row := range sr.Values {
			month := influxql.Time(row[0]).In(loc).Format("2006-01")
			t := out[month]
			if t == nil {
				t = report.Totals{}
				out[month] = t
			}
			for i, c := range sr.Columns {
				if i == 0 {
					continue
				}
				if v, ok := influxql.Float(row[i]); ok {
					t[c] += v
				}
			}
		}
	}
	return out, nil
}

// alertCounts is one month of safety alerts.
type alertCounts struct {
	Raised, Acknowledged, InTime int
}

// monthlyAlerts counts a facility's safety alerts (warning and critical)
// per month: raised (fired), acknowledged, and acknowledged within
// handled of firing.
func (rc record) monthlyAlerts(ctx context.Context, facility string, from, to time.Time, loc *time.Location, handled time.Duration) (map[string]alertCounts, error) {
	// fingerprint is on every event: a row without a selected field is
	// not returned, and ack_seconds is on acknowledgements only.
	series, err := rc.q.Query(ctx, fmt.Sprintf(`SELECT %q, %q, %q FROM %q WHERE %s AND %q != 'info' AND (%q = 'firing' OR %q = 'acknowledged') AND %s`,
		model.FieldFingerprint, model.FieldAckSeconds, model.TagState, model.MeasurementAlertEvent, facilityWhere(facility), model.TagSeverity,
		model.TagState, model.TagState, influxql.TimeRange(from, to)))
	if err != nil {
		return nil, err
	}
	out := map[string]alertCounts{}
	for _, sr := range series {
		ack, state := sr.Column(model.FieldAckSeconds), sr.Column(model.TagState)
		for _, row := range sr.Values {
			month := influxql.Time(row[0]).In(loc).Format("2006-01")
			c := out[month]
			st, _ := row[state].(string)
			switch st {
			case "firing":
				c.Raised++
			case "acknowledged":
				c.Acknowledged++
				if s, ok := influxql.Float(row[ack]); ok && time.Duration(s*float64(time.Second)) <= handled {
					c.InTime++
				}
			}
			out[month] = c
		}
	}
	return out, nil
}

// firstMonth is the month of a facility's first hour with data in the
// rollup ("" when none): when its monitoring began, to the month.
func (rc record) firstMonth(ctx context.Context, facility string, loc *time.Location) (string, error) {
	series, err := rc.q.Query(ctx, fmt.Sprintf(`SELECT first(%q) FROM %q WHERE %s AND %q > 0`, model.FieldDataMinutes,
		model.MeasurementComplianceHourly, facilityWhere(facility), model.FieldDataMinutes))
	if err != nil {
		return "", err
	}
	for _, sr := range series {
		for _, row := range sr.Values {
			return influxql.Time(row[0]).In(loc).Format("2006-01"), nil
		}
	}
	return "", nil
}
