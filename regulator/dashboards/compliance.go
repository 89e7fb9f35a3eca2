package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// ratio renders 100 * sum(ok) / sum(total) over compliance_hourly fields.
func ratio(ok, total, as string) string {
	return fmt.Sprintf(`100 * sum(%q) / sum(%q) AS %q`, ok, total, as)
}

var complianceRatios = ratio("temperature_ok_minutes", "temperature_minutes", "温度") + ", " +
	ratio("humidity_ok_minutes", "humidity_minutes", "湿度") + ", " +
	ratio("co2_ok_minutes", "co2_minutes", "CO2") + ", " +
	ratio("pm25_ok_minutes", "pm25_minutes", "PM2.5") + ", " +
	ratio("hcho_ok_minutes", "hcho_minutes", "甲醛") + ", " +
	ratio("camera_online_minutes", "camera_minutes", "摄像头在线") + ", " +
	ratio("camera_recording_minutes", "camera_minutes", "摄像头录像") + ", " +
	ratio("data_minutes", "open_minutes", "数据完整率")

const hourly = `FROM "compliance_hourly" WHERE $timeFilter AND ` + regionFilter

func complianceView() *dashboard.DashboardBuilder {
	pct := func(title, ok, total string) *InfluxQLBuilder {
		return influx("A", FormatTimeSeries, `SELECT `+ratio(ok, total, title)+` `+hourly)
	}
	return base("cw-compliance", "合规情况 Compliance", "Share of opening-hour minutes within GB/T 18883-2022 limits, camera coverage and data completeness, from compliance_hourly.").
		WithPanel(statPanel("数据完整率 Data completeness", "percent", "blue", pct("completeness", "data_minutes", "open_minutes"))).
		WithPanel(statPanel("摄像头在线率 Camera online", "percent", "blue", pct("camera_online", "camera_online_minutes", "camera_minutes"))).
		WithPanel(statPanel("二氧化碳达标率 CO2 within limit", "percent", "blue", pct("co2", "co2_ok_minutes", "co2_minutes"))).
		WithPanel(statPanel("温度达标率 Temperature within limit", "percent", "blue", pct("temperature", "temperature_ok_minutes", "temperature_minutes"))).
		WithPanel(timeSeries("每日达标率 Daily compliance", "percent",
			influx("A", FormatTimeSeries, `SELECT `+complianceRatios+` `+hourly+` GROUP BY time(1d) fill(none)`)).Span(fullWidth)).
		WithPanel(tablePanel("达标率最低的机构 Least compliant facilities",
			influx("A", FormatTable, `SELECT bottom("score", "facility", 10) AS "score" FROM (SELECT 100 * (sum("temperature_ok_minutes") + sum("humidity_ok_minutes") + sum("co2_ok_minutes") + sum("pm25_ok_minutes") + sum("hcho_ok_minutes")) / (sum("temperature_minutes") + sum("humidity_minutes") + sum("co2_minutes") + sum("pm25_minutes") + sum("hcho_minutes")) AS "score" `+hourly+` GROUP BY "facility")`)).
			Description("Score: share of room-minutes during opening hours with temperature, humidity, CO2, PM2.5 and HCHO all counted together.")).
		WithPanel(tablePanel("各机构合规 Compliance per facility",
			influx("A", FormatTable, `SELECT `+complianceRatios+`, sum("alerts_fired") AS "告警数", sum("ack_seconds_sum") / sum("acknowledged") AS "平均确认秒" `+hourly+` GROUP BY "county", "street", "facility"`)))
}
