package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
)

const facilityRoom = `"facility" =~ /^$facility$/ AND "room" =~ /^$room$/`

func roomMean(measurement string) *InfluxQLBuilder {
	return influx("A", FormatTimeSeries, fmt.Sprintf(`SELECT mean("value") FROM %q WHERE $timeFilter AND %s GROUP BY time($__interval), "room" fill(null)`, measurement, facilityRoom)).alias("$tag_room")
}

func roomState(measurement string) *InfluxQLBuilder {
	return influx("A", FormatTimeSeries, fmt.Sprintf(`SELECT last("value") FROM %q WHERE $timeFilter AND %s GROUP BY time($__interval), "room", "device" fill(previous)`, measurement, facilityRoom)).alias("$tag_room $tag_device")
}

func facilityDetail(rs *rules.RuleSet) *dashboard.DashboardBuilder {
	b := base("cw-facility", "机构详情 Facility detail", "Each room's climate and air against the alerting rules' limits (GB/T 18883-2022), doors and cameras, and alerts as annotations.")
	b.WithVariable(roomVariable())
	ann := influx("A", FormatTable, `SELECT "message", "rule", "severity", "room" FROM "alert_event" WHERE $timeFilter AND "facility" =~ /^$facility$/ AND "state" = 'firing'`)
	b.Annotation(dashboard.NewAnnotationQueryBuilder().
		Name("告警 Alerts").
		Datasource(*influxDS()).
		Enable(true).
		IconColor("red").
		Target(ann).
		TextFormat("{{message}}").
		TagKeys("rule,severity,room"))
	return b.
		WithPanel(limitPanel(rs, "温度 Temperature", "celsius", "°C", model.KindTemperature, "blue", "red")).
		WithPanel(limitPanel(rs, "相对湿度 Humidity", "humidity", "%", model.KindHumidity, "orange", "orange")).
		WithPanel(limitPanel(rs, "二氧化碳 CO2", "ppm", "ppm", model.KindCO2, "green", "red")).
		WithPanel(limitPanel(rs, "PM2.5", "conµgm3", "µg/m³", model.KindPM25, "green", "red")).
		WithPanel(limitPanel(rs, "甲醛 HCHO", "conmgm3", "mg/m³", model.KindHCHO, "green", "red")).
		WithPanel(stateTimeline("门 Doors", "关 closed", "开 open", "green", "orange", roomState("door"))).
		WithPanel(stateTimeline("摄像头在线 Camera online", "离线 offline", "在线 online", "red", "green", roomState("camera_online"))).
		WithPanel(stateTimeline("摄像头录像 Camera recording", "未录像 not recording", "录像 recording", "red", "green", roomState("camera_recording")))
}
