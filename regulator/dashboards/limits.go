package dashboards

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
)

// limitPanel is a room chart of a kind with the rule set's limits drawn as
// bands: below the lower limit in low, inside green, above the upper limit
// in high.
func limitPanel(rs *rules.RuleSet, title, unit, gunit string, k model.Kind, low, high string) *timeseries.PanelBuilder {
	p := timeSeries(title, unit, roomMean(k.String()))
	kl, ok := rs.KindLimits(k)
	if !ok {
		return p.Description("No alerting rule limits this kind.")
	}
	var bands []band
	if kl.Widest.HasMin() {
		bands = append(bands, band{nil, low}, band{at(kl.Widest.Min), "green"})
	} else {
		bands = append(bands, band{nil, "green"})
	}
	if kl.Widest.HasMax() {
		bands = append(bands, band{at(kl.Widest.Max), high})
	}
	return withLimits(p.Description(limitsDescription(kl, gunit)), bands...)
}

// limitsDescription says where the bands come from, in the panel's
// description: the rule set's limits by season and room type.
func limitsDescription(kl rules.KindLimits, unit string) string {
	var b strings.Builder
	b.WriteString("Limits of the alerting rules")
	var std []string
	for _, r := range kl.Rules {
		if s, _, ok := strings.Cut(r.Source, ":"); ok && strings.Contains(s, "GB") && !contains(std, s) {
			std = append(std, strings.TrimSpace(s))
		}
	}
	if len(std) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(std, ", "))
	}
	fmt.Fprintf(&b, ": %s", seasonBands(kl.Seasons, unit))
	for _, g := range kl.Groups() {
		names := make([]string, len(g.Types))
		for i, rt := range g.Types {
			names[i] = string(rt)
		}
		text := "not judged"
		if len(g.Seasons) > 0 {
			text = seasonBands(g.Seasons, unit)
		}
		fmt.Fprintf(&b, "; %s rooms: %s", strings.Join(names, ", "), text)
	}
	for _, r := range kl.Rules {
		if r.Window > 0 {
			fmt.Fprintf(&b, "; %s judges the %s mean", r.Name, strings.TrimSuffix(strings.TrimSuffix(r.Window.String(), "0s"), "0m"))
		}
	}
	fmt.Fprintf(&b, ". Drawn is the widest allowed band (%s).", bandString(kl.Widest, unit))
	return b.String()
}

func seasonBands(m map[calendar.Season]rules.Band, unit string) string {
	if b, ok := rules.Uniform(m); ok {
		return bandString(b, unit) + " in every season"
	}
	var out []string
	for _, s := range rules.Seasons {
		if b, ok := m[s]; ok {
			out = append(out, fmt.Sprintf("%s season %s", s, bandString(b, unit)))
		}
	}
	return strings.Join(out, ", ")
}

func bandString(b rules.Band, unit string) string {
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	switch {
	case b.HasMin() && b.HasMax():
		return num(b.Min) + "-" + num(b.Max) + " " + unit
	case b.HasMax():
		return "at most " + num(b.Max) + " " + unit
	case b.HasMin():
		return "at least " + num(b.Min) + " " + unit
	}
	return "no limit"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == strings.TrimSpace(s) {
			return true
		}
	}
	return false
}
