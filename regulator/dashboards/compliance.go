package dashboards

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/cradlewatch/cradlewatch/model"
)

// ratio renders 100 * sum(ok) / sum(total) over compliance_hourly fields.
func ratio(ok, total, as string) string {
	return fmt.Sprintf(`100 * sum(%q) / sum(%q) AS %q`, ok, total, as)
}

// complianceRatios are the per-kind, camera and completeness shares.
var complianceRatios = func() string {
	var parts []string
	names := map[model.Kind]string{model.KindTemperature: "温度", model.KindHumidity: "湿度", model.KindCO2: "CO2",
		model.KindPM25: "PM2.5", model.KindHCHO: "甲醛"}
	for _, k := range model.ComplianceKinds {
		parts = append(parts, ratio(model.ComplianceOKField(k), model.ComplianceMinutesField(k), names[k]))
	}
	return strings.Join(append(parts,
		ratio(model.FieldCameraOnlineMinutes, model.FieldCameraMinutes, "摄像头在线"),
		ratio(model.FieldCameraRecordingMinutes, model.FieldCameraMinutes, "摄像头录像"),
		ratio(model.FieldDataMinutes, model.FieldOpenMinutes, "数据完整率")), ", ")
}()

// envScore is the share of room-minutes within limits, all kinds counted
// together.
var envScore = func() string {
	var ok, all []string
	for _, k := range model.ComplianceKinds {
		ok = append(ok, fmt.Sprintf("sum(%q)", model.ComplianceOKField(k)))
		all = append(all, fmt.Sprintf("sum(%q)", model.ComplianceMinutesField(k)))
	}
	return fmt.Sprintf("100 * (%s) / (%s)", strings.Join(ok, " + "), strings.Join(all, " + "))
}()

const hourly = `FROM "` + model.MeasurementComplianceHourly + `" WHERE $timeFilter AND ` + regionFilter

func complianceView() *dashboard.DashboardBuilder {
	pct := func(title, ok, total string) *InfluxQLBuilder {
		return influx("A", FormatTimeSeries, `SELECT `+ratio(ok, total, title)+` `+hourly)
	}
	return base("cw-compliance", "合规情况 Compliance", "Share of opening-hour minutes within the alerting rules' limits (GB/T 18883-2022), camera coverage and data completeness, from compliance_hourly.").
		WithPanel(statPanel("数据完整率 Data completeness", "percent", "blue", pct("completeness", model.FieldDataMinutes, model.FieldOpenMinutes))).
		WithPanel(statPanel("摄像头在线率 Camera online", "percent", "blue", pct("camera_online", model.FieldCameraOnlineMinutes, model.FieldCameraMinutes))).
		WithPanel(statPanel("二氧化碳达标率 CO2 within limit", "percent", "blue", pct("co2", model.ComplianceOKField(model.KindCO2), model.ComplianceMinutesField(model.KindCO2)))).
		WithPanel(statPanel("温度达标率 Temperature within limit", "percent", "blue", pct("temperature", model.ComplianceOKField(model.KindTemperature), model.ComplianceMinutesField(model.KindTemperature)))).
		WithPanel(timeSeries("每日达标率 Daily compliance", "percent",
			influx("A", FormatTimeSeries, `SELECT `+complianceRatios+` `+hourly+` GROUP BY time(1d) fill(none)`+inDashboardTZ)).Span(fullWidth)).
		WithPanel(tablePanel("达标率最低的机构 Least compliant facilities",
			influx("A", FormatTable, `SELECT bottom("score", "facility", 10) AS "score" FROM (SELECT `+envScore+` AS "score" `+hourly+` GROUP BY "facility")`)).
			Description("Score: share of room-minutes during opening hours with temperature, humidity, CO2, PM2.5 and HCHO all counted together.")).
		WithPanel(tablePanel("各机构合规 Compliance per facility",
			influx("A", FormatTable, `SELECT `+complianceRatios+`, sum("alerts_fired") AS "告警数", sum("ack_seconds_sum") / sum("acknowledged") AS "平均确认秒" `+hourly+` GROUP BY "county", "street", "facility"`)))
}
