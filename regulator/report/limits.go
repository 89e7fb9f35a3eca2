package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
)

// Chinese names of what the limits text speaks of.
var (
	kindNames = map[model.Kind]struct{ name, unit string }{
		model.KindTemperature: {"温度", "℃"},
		model.KindHumidity:    {"相对湿度", "%"},
		model.KindCO2:         {"二氧化碳", " ppm"},
		model.KindPM25:        {"PM2.5", " µg/m³"},
		model.KindHCHO:        {"甲醛", " mg/m³"},
	}
	seasonNames = map[calendar.Season]string{calendar.Heating: "采暖季", calendar.Cooling: "制冷季", calendar.Transition: "过渡季"}
	roomNames   = map[model.RoomType]string{
		model.RoomInfant: "乳儿班", model.RoomToddler: "托班", model.RoomActivity: "活动室", model.RoomSleep: "寝室",
		model.RoomFeeding: "喂奶室", model.RoomKitchen: "厨房", model.RoomCorridor: "走廊", model.RoomEntrance: "门厅",
		model.RoomOffice: "办公室", model.RoomOutdoor: "户外",
	}
)

// LimitsText states, in Chinese, the limits the compliance rollup judged
// by: the alerting rule set's, per kind, season and room type, with the
// standards the rules cite. It is generated from the rule set, so the
// report says what was applied.
func LimitsText(rs *rules.RuleSet) string {
	if rs == nil {
		return ""
	}
	var parts []string
	sources := map[string]bool{}
	for _, k := range model.ComplianceKinds {
		kl, ok := rs.KindLimits(k)
		if !ok {
			continue
		}
		n := kindNames[k]
		text := n.name + "：" + seasonsText(kl.Seasons, n.unit)
		if rt := roomTypesText(kl, n.unit); rt != "" {
			text += "（" + rt + "）"
		}
		var windows []string
		for _, r := range kl.Rules {
			if r.Window > 0 {
				windows = append(windows, windowText(r.Window))
			}
			if std, _, ok := strings.Cut(r.Source, ":"); ok && strings.Contains(std, "GB") {
				sources[strings.TrimSpace(std)] = true
			}
		}
		if len(windows) > 0 {
			text += "，告警按" + strings.Join(windows, "、") + "判定"
		}
		parts = append(parts, text)
	}
	std := make([]string, 0, len(sources))
	for s := range sources {
		std = append(std, s)
	}
	sort.Strings(std)
	return fmt.Sprintf("环境指标限值取自告警规则（依据 %s），与告警一致，季节按机构所在地区的采暖、制冷期：%s。按分钟均值判定，严于标准的平均时段。",
		strings.Join(std, "、"), strings.Join(parts, "；"))
}

// seasonsText is "采暖季 16–24℃，制冷季 22–28℃，过渡季 16–28℃", or one
// band when every season has the same.
func seasonsText(m map[calendar.Season]rules.Band, unit string) string {
	if b, ok := rules.Uniform(m); ok {
		return bandText(b, unit)
	}
	var out []string
	for _, s := range rules.Seasons {
		if b, ok := m[s]; ok {
			out = append(out, seasonNames[s]+" "+bandText(b, unit))
		} else {
			out = append(out, seasonNames[s]+"不判定")
		}
	}
	return strings.Join(out, "，")
}

// roomTypesText lists the room types with other limits, grouped when they
// share them: "喂奶室、乳儿班：采暖季 20–26℃ …；厨房、户外：不判定".
func roomTypesText(kl rules.KindLimits, unit string) string {
	var out []string
	for _, g := range kl.Groups() {
		names := make([]string, len(g.Types))
		for i, rt := range g.Types {
			names[i] = roomNames[rt]
		}
		text := "不判定"
		if len(g.Seasons) > 0 {
			text = seasonsText(g.Seasons, unit)
		}
		out = append(out, strings.Join(names, "、")+"："+text)
	}
	return strings.Join(out, "；")
}

func bandText(b rules.Band, unit string) string {
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	switch {
	case b.HasMin() && b.HasMax():
		return num(b.Min) + "–" + num(b.Max) + unit
	case b.HasMax():
		return "≤ " + num(b.Max) + unit
	case b.HasMin():
		return "≥ " + num(b.Min) + unit
	}
	return "不限"
}

func windowText(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d小时均值", d/time.Hour)
	}
	return fmt.Sprintf("%d分钟均值", d/time.Minute)
}
