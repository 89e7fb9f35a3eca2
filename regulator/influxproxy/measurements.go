package influxproxy

import (
	"maps"
	"slices"

	"github.com/cradlewatch/cradlewatch/model"
)

// DefaultMeasurements is the schema of docs/schema.md (model/schema.go):
// one measurement per reading kind, and gap, gateway_status, alert_event
// and compliance_hourly. Queries may read these and nothing else; every one
// of them carries the region tags province, city, county and street.
func DefaultMeasurements() []string {
	out := slices.Collect(maps.Keys(model.Schema()))
	for k := model.Kind(1); k.Valid(); k++ {
		out = append(out, k.String())
	}
	slices.Sort(out)
	return out
}
