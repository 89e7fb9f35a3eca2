package influxproxy

import (
	"sort"

	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/regulator/compliance"
)

// Measurements written besides the readings (docs/schema.md). Every one of
// them, like every reading, carries the region tags province, city, county
// and street.
const (
	measurementGap           = "gap"            // collector
	measurementGatewayStatus = "gateway_status" // collector
	measurementAlertEvent    = "alert_event"    // alerting
)

// DefaultMeasurements is the schema of docs/schema.md: one measurement per
// reading kind, gap, gateway_status, alert_event and compliance_hourly.
// Queries may read these and nothing else.
func DefaultMeasurements() []string {
	var out []string
	for k := model.Kind(1); k.Valid(); k++ {
		out = append(out, k.String())
	}
	out = append(out, measurementGap, measurementGatewayStatus, measurementAlertEvent, compliance.Measurement)
	sort.Strings(out)
	return out
}
