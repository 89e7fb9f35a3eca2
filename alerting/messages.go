package alerting

import (
	"strconv"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// notifyAlert turns an engine transition into the notification path's
// input: the facility's and room's names, the severity, and the value in
// words a teacher reads at a glance (unit and sensible precision, the
// limit only where there is one, the direction it was crossed). The
// rule's description (configs/rules.yaml) is what is wrong; states (a
// door, smoke) need no value. f may be nil (a facility not in the
// registry); info describes the rule.
func notifyAlert(tr rules.Transition, f *registry.Facility, info rules.RuleInfo) notify.Alert {
	a := tr.Alert
	n := notify.Alert{
		Fingerprint: a.Fingerprint, Rule: a.Rule, Facility: a.Facility, Room: a.Room, Device: a.Device,
		What: a.Description, StartsAt: a.Since, At: tr.At, Regulators: a.Escalate,
	}
	n.Value, n.Limit, n.Detail = describe(a, info)
	if !a.FiredAt.IsZero() {
		n.StartsAt = a.FiredAt
	}
	if n.StartsAt.IsZero() {
		n.StartsAt = tr.At
	}
	if f != nil {
		n.FacilityName, n.Region = f.Name, f.Region
		for _, r := range f.Rooms {
			if r.ID == a.Room && r.Name != "" {
				n.Room = r.Name
			}
		}
	}
	switch a.Severity {
	case rules.Critical:
		n.Severity = notify.SeverityCritical
	case rules.Warning:
		n.Severity = notify.SeverityWarning
	default:
		n.Severity = notify.SeverityInfo
	}
	switch tr.To {
	case rules.Acknowledged:
		n.State = notify.StateAcknowledged
	case rules.Resolved:
		n.State = notify.StateResolved
	default:
		n.State = notify.StateFiring
	}
	return n
}

// describe renders an alert's value and limit, and the phrase a message
// shows: "（1小时均值1650ppm，限值1000ppm）", "（29.3℃，高于上限28℃）",
// "（10分钟内上升9.2℃）", "（当日达标1次，应至少2次）". Rules about a state (door, window, smoke, gas,
// camera online or recording) and about silence (a device, a gateway) have
// none: their description says it all, and the message shows when it
// began instead.
func describe(a rules.Alert, info rules.RuleInfo) (value, limit, detail string) {
	switch info.Type {
	case "ventilation":
		n, least := trimmed(a.Value, 0), trimmed(a.Limit, 0)
		return n + "次", least + "次", "（当日达标" + n + "次，应至少" + least + "次）"
	case "rise":
		v := formatValue(a.Kind, a.Value)
		return v, formatValue(a.Kind, a.Limit), "（" + zhSpan(info.Within) + "内上升" + v + "）"
	case "threshold":
	default:
		return "", "", ""
	}
	if a.Kind.IsState() {
		return "", "", ""
	}
	value, limit = formatValue(a.Kind, a.Value), formatValue(a.Kind, a.Limit)
	if info.Window > 0 {
		return value, limit, "（" + zhSpan(info.Window) + "均值" + value + "，限值" + limit + "）"
	}
	if a.Value < a.Limit {
		return value, limit, "（" + value + "，低于下限" + limit + "）"
	}
	return value, limit, "（" + value + "，高于上限" + limit + "）"
}

// zhSpan writes a rule's span as a reader says it: 1小时, 10分钟.
func zhSpan(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "小时"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "分钟"
	}
	return strconv.Itoa(int(d.Round(time.Second)/time.Second)) + "秒"
}

// trimmed formats v with at most prec decimals and no trailing zeros:
// 28 → "28", 29.35 → "29.4" (prec 1), 0.08 → "0.08" (prec 2).
func trimmed(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// unitOf is each kind's precision in messages and its unit.
var unitOf = map[model.Kind]struct {
	prec int
	unit string
}{
	model.KindTemperature:     {1, "℃"},
	model.KindHumidity:        {0, "%"},
	model.KindCO2:             {0, "ppm"},
	model.KindPM25:            {0, "μg/m³"},
	model.KindPM10:            {0, "μg/m³"},
	model.KindHCHO:            {2, "mg/m³"},
	model.KindTVOC:            {2, "mg/m³"},
	model.KindCameraRetention: {0, "天"},
}
