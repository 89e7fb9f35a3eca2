package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/cradlewatch/cradlewatch/model"
)

func platformHealth() *dashboard.DashboardBuilder {
	return base("cw-platform", "平台运行 Platform health", "Is supervision data flowing: gateway spools and gaps (InfluxDB), collector and SMS (Prometheus).").
		WithPanel(timeSeries("网关积压 Spool backlog", "none",
			influx("A", FormatTimeSeries, `SELECT max("spool_depth") FROM "`+model.MeasurementGatewayStatus+`" WHERE $timeFilter AND `+regionFilter+` GROUP BY time($__interval), "facility" fill(none)`).alias("$tag_facility"))).
		WithPanel(timeSeries("丢弃读数 Readings dropped by gateways (gaps)", "none",
			influx("A", FormatTimeSeries, `SELECT sum("count") FROM "`+model.MeasurementGap+`" WHERE $timeFilter AND `+regionFilter+` GROUP BY time($__interval), "facility" fill(none)`).alias("$tag_facility"))).
		WithPanel(timeSeries("采集延迟 Collector lag", "s").
			Datasource(promDS()).
			WithTarget(promQuery("A", `max(cw_collector_lag_seconds)`, "lag"))).
		WithPanel(timeSeries("写入耗时 InfluxDB write p99", "s").
			Datasource(promDS()).
			WithTarget(promQuery("A", `histogram_quantile(0.99, sum by (le) (rate(cw_collector_write_seconds_bucket[$__rate_interval])))`, "p99"))).
		WithPanel(timeSeries("拒收读数 Readings rejected", "reqps").
			Datasource(promDS()).
			WithTarget(promQuery("A", `sum by (reason) (rate(cw_collector_readings_rejected_total[$__rate_interval]))`, "{{reason}}"))).
		WithPanel(timeSeries("拒收状态 Gateway statuses rejected", "reqps").
			Datasource(promDS()).
			WithTarget(promQuery("A", `sum by (reason) (rate(cw_collector_status_rejected_total[$__rate_interval]))`, "{{reason}}"))).
		WithPanel(timeSeries("备案文件拒收 Registry records rejected", "none").
			Description("A facility file that was invalid (or claimed another file's facility or gateway) when the services reloaded the registry: its last good version stays in force until it is fixed. The services' logs name the file, the key and the reason.").
			Datasource(promDS()).
			WithTarget(promQuery("A", `sum by (job) (increase(cw_registry_rejected_total[$__rate_interval]))`, "{{job}}"))).
		WithPanel(timeSeries("通知失败 Notifications failed", "reqps").
			Datasource(promDS()).
			WithTarget(promQuery("A", `sum by (channel, result) (rate(cw_alerting_notifications_total{result!="ok"}[$__rate_interval]))`, "{{channel}} {{result}}")))
}
