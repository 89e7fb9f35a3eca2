package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/cradlewatch/cradlewatch/model"
)

// Queries shared by the overview; kept as constants so the integration test
// and a reader see the InfluxQL in one place.
const (
	// lastStatus is each gateway's last status in range, per facility.
	lastStatus = `SELECT max("online") AS "online" FROM (SELECT last("online") AS "online" FROM "` + model.MeasurementGatewayStatus + `" WHERE $timeFilter AND ` + regionFilter + ` GROUP BY "facility", "gateway") GROUP BY "facility"`

	// openAlert and unacknowledged filter lastAlertEvent.
	openAlert      = `"state" != 'resolved'`
	unacknowledged = `("state" = 'pending' OR "state" = 'firing')`

	// lastAlertEvent is the newest event of each alert (facility, room,
	// rule) with its state: a selector (last) may carry other columns of
	// the same point, tags included, so the outer query can filter on the
	// state the alert is in now. Counting sparse fields instead
	// (ack_seconds) fails: InfluxQL arithmetic with an empty count is null.
	lastAlertEvent = `SELECT last("value") AS "value", "state", "limit", "message" FROM "` + model.MeasurementAlertEvent + `" WHERE $timeFilter AND ` + regionFilter + ` GROUP BY "county", "street", "facility", "room", "rule", "severity"`
)

func regionOverview() *dashboard.DashboardBuilder {
	return base("cw-region-overview", "区域总览 Region overview", "Facilities online, open alerts and who ignores them, for the selected region.").
		WithPanel(statPanel("在线机构 Facilities online", "none", "green",
			influx("A", FormatTimeSeries, `SELECT sum("online") FROM (`+lastStatus+`)`))).
		WithPanel(statPanel("离线机构 Facilities offline", "none", "red",
			influx("A", FormatTimeSeries, `SELECT count("online") - sum("online") FROM (`+lastStatus+`)`))).
		WithPanel(statPanel("未关闭告警 Open alerts", "none", "orange",
			influx("A", FormatTimeSeries, `SELECT count("value") FROM (`+lastAlertEvent+`) WHERE `+openAlert))).
		WithPanel(statPanel("未确认严重告警 Unacknowledged critical", "none", "dark-red",
			influx("A", FormatTimeSeries, `SELECT count("value") FROM (`+lastAlertEvent+`) WHERE "severity" = 'critical' AND `+unacknowledged))).
		WithPanel(timeSeries("未关闭告警（按级别） Open alerts by severity", "none",
			influx("A", FormatTimeSeries, `SELECT count("value") FROM (`+lastAlertEvent+`) WHERE `+openAlert+` GROUP BY "severity"`).alias("$tag_severity"))).
		WithPanel(tablePanel("告警最多的机构 Facilities with most alerts",
			influx("A", FormatTable, `SELECT top("fired", "facility", 10) AS "fired" FROM (SELECT count("value") AS "fired" FROM "`+model.MeasurementAlertEvent+`" WHERE $timeFilter AND "state" = 'firing' AND `+regionFilter+` GROUP BY "facility")`))).
		WithPanel(tablePanel("未关闭告警及时长 Open alerts and age",
			influx("A", FormatTable, `SELECT "value", "state", "limit", "message" FROM (`+lastAlertEvent+`) WHERE `+openAlert+` GROUP BY *`)).
			Description("Alerts whose newest event in range is not the resolution. The time column is when the alert last changed state.").
			Span(fullWidth)).
		WithPanel(tablePanel("未确认的升级告警 Unacknowledged escalations",
			influx("A", FormatTable, `SELECT "value", "state", "limit", "message" FROM (`+lastAlertEvent+`) WHERE `+unacknowledged+` GROUP BY *`)).
			Description("Open alerts nobody acknowledged: these are escalated from the operator to the street and the county.").
			Span(fullWidth)).
		WithPanel(tablePanel("机构在线状态 Gateway status",
			influx("A", FormatTable, `SELECT last("online") AS "online", last("spool_depth") AS "spool_depth", last("dropped") AS "dropped" FROM "`+model.MeasurementGatewayStatus+`" WHERE $timeFilter AND `+regionFilter+` GROUP BY "county", "street", "facility", "gateway"`))).
		WithPanel(mapPanel("机构地图 Facility map",
			influx("A", FormatTable, `SELECT last("lat") AS "lat", last("lon") AS "lon", last("online") AS "online" FROM "`+model.MeasurementGatewayStatus+`" WHERE $timeFilter AND `+regionFilter+` GROUP BY "facility"`)).
			Description("Needs lat/lon fields (WGS84 degrees) on gateway_status."))
}
