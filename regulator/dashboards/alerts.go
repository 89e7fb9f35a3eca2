package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/cradlewatch/cradlewatch/model"
)

const (
	acked    = `FROM "` + model.MeasurementAlertEvent + `" WHERE $timeFilter AND "state" = 'acknowledged' AND ` + regionFilter
	resolved = `FROM "` + model.MeasurementAlertEvent + `" WHERE $timeFilter AND "state" = 'resolved' AND ` + regionFilter
)

func alertHandling() *dashboard.DashboardBuilder {
	return base("cw-alert-handling", "告警处置 Alert handling", "How fast operators acknowledge and resolve alerts.").
		WithPanel(statPanel("平均确认时长 Mean time to acknowledge", "s", "blue",
			influx("A", FormatTimeSeries, `SELECT mean("ack_seconds") `+acked))).
		WithPanel(statPanel("确认时长 P90 time to acknowledge", "s", "blue",
			influx("A", FormatTimeSeries, `SELECT percentile("ack_seconds", 90) `+acked))).
		WithPanel(statPanel("平均处置时长 Mean time to resolve", "s", "purple",
			influx("A", FormatTimeSeries, `SELECT mean("resolve_seconds") `+resolved))).
		WithPanel(statPanel("处置时长 P90 time to resolve", "s", "purple",
			influx("A", FormatTimeSeries, `SELECT percentile("resolve_seconds", 90) `+resolved))).
		WithPanel(timeSeries("每日确认时长（区县） Daily mean time to acknowledge by county", "s",
			influx("A", FormatTimeSeries, `SELECT mean("ack_seconds") `+acked+` GROUP BY time(1d), "county" fill(none)`+inDashboardTZ).alias("$tag_county"))).
		WithPanel(timeSeries("每日告警数（级别） Alerts fired per day by severity", "none",
			influx("A", FormatTimeSeries, `SELECT count("value") FROM "`+model.MeasurementAlertEvent+`" WHERE $timeFilter AND "state" = 'firing' AND `+regionFilter+` GROUP BY time(1d), "severity" fill(0)`+inDashboardTZ).alias("$tag_severity"))).
		WithPanel(tablePanel("各机构确认时长 Time to acknowledge per facility",
			influx("A", FormatTable, `SELECT count("ack_seconds") AS "acknowledged", mean("ack_seconds") AS "mean_s", percentile("ack_seconds", 90) AS "p90_s", max("ack_seconds") AS "max_s" `+acked+` GROUP BY "county", "street", "facility"`))).
		WithPanel(tablePanel("各机构处置时长 Time to resolve per facility",
			influx("A", FormatTable, `SELECT count("resolve_seconds") AS "resolved", mean("resolve_seconds") AS "mean_s", percentile("resolve_seconds", 90) AS "p90_s", max("resolve_seconds") AS "max_s" `+resolved+` GROUP BY "county", "street", "facility"`)))
}
