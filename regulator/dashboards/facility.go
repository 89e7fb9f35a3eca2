package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

const facilityRoom = `"facility" =~ /^$facility$/ AND "room" =~ /^$room$/`

func roomMean(measurement string) *InfluxQLBuilder {
	return influx("A", FormatTimeSeries, fmt.Sprintf(`SELECT mean("value") FROM %q WHERE $timeFilter AND %s GROUP BY time($__interval), "room" fill(null)`, measurement, facilityRoom)).alias("$tag_room")
}

func roomState(measurement string) *InfluxQLBuilder {
	return influx("A", FormatTimeSeries, fmt.Sprintf(`SELECT last("value") FROM %q WHERE $timeFilter AND %s GROUP BY time($__interval), "room", "device" fill(previous)`, measurement, facilityRoom)).alias("$tag_room $tag_device")
}

func facilityDetail() *dashboard.DashboardBuilder {
	b := base("cw-facility", "机构详情 Facility detail", "Each room's climate and air against GB/T 18883-2022, doors and cameras, and alerts as annotations.")
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
		WithPanel(withLimits(timeSeries("温度 Temperature", "celsius", roomMean("temperature")).
			Description("Bands: heating season 16-24 °C, cooling season 22-28 °C (GB/T 18883-2022); drawn is the widest allowed band."),
			band{nil, "blue"}, band{at(16), "green"}, band{at(28), "red"})).
		WithPanel(withLimits(timeSeries("相对湿度 Humidity", "humidity", roomMean("humidity")).
			Description("Heating season 30-60 %, cooling season 40-80 % (GB/T 18883-2022); drawn is the widest allowed band."),
			band{nil, "orange"}, band{at(30), "green"}, band{at(80), "orange"})).
		WithPanel(withLimits(timeSeries("二氧化碳 CO2", "ppm", roomMean("co2")).
			Description("1000 ppm, 1-hour mean (GB/T 18883-2022)."),
			band{nil, "green"}, band{at(1000), "red"})).
		WithPanel(withLimits(timeSeries("PM2.5", "conµgm3", roomMean("pm25")).
			Description("50 µg/m³, 24-hour mean (GB/T 18883-2022)."),
			band{nil, "green"}, band{at(50), "red"})).
		WithPanel(withLimits(timeSeries("甲醛 HCHO", "conmgm3", roomMean("hcho")).
			Description("0.08 mg/m³, 1-hour mean (GB/T 18883-2022)."),
			band{nil, "green"}, band{at(0.08), "red"})).
		WithPanel(stateTimeline("门 Doors", "关 closed", "开 open", "green", "orange", roomState("door"))).
		WithPanel(stateTimeline("摄像头在线 Camera online", "离线 offline", "在线 online", "red", "green", roomState("camera_online"))).
		WithPanel(stateTimeline("摄像头录像 Camera recording", "未录像 not recording", "录像 recording", "red", "green", roomState("camera_recording")))
}
