// Package dashboards generates CradleWatch's Grafana dashboards for
// regulators as code. Every InfluxDB query is raw InfluxQL, which runs on
// InfluxDB 1.8, 2.x (v1 compatibility) and 3.x, and names measurements,
// tags and fields as model's schema does; every dashboard carries the
// chained region variables province, city, county, street, facility, read
// from gateway_status, whose region tags the collector takes from the
// facility registry. The limit bands are the alerting rule set's.
package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
)

// dashboardTZ is the regulators' time zone: days and opening hours are
// Beijing time whatever the browser says.
const dashboardTZ = "Asia/Shanghai"

// inDashboardTZ is the clause that ends a query grouping by whole days:
// InfluxDB cuts time(1d) at UTC midnight (08:00 in Beijing) unless told
// the zone, and Grafana does not tell it.
const inDashboardTZ = ` tz('` + dashboardTZ + `')`

func base(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{"cradlewatch", "regulator"}).
		Timezone(dashboardTZ).
		Time("now-7d", "now").
		Refresh("5m").
		Readonly().
		Variables(variables(model.MeasurementGatewayStatus, len(regionLevels)))
}

// builders lists every dashboard by file name.
func builders(rs *rules.RuleSet) []struct {
	file string
	b    *dashboard.DashboardBuilder
} {
	return []struct {
		file string
		b    *dashboard.DashboardBuilder
	}{
		{"region-overview.json", regionOverview()},
		{"facility-detail.json", facilityDetail(rs)},
		{"alert-handling.json", alertHandling()},
		{"compliance.json", complianceView()},
		{"platform-health.json", platformHealth()},
	}
}

// Render builds every dashboard, with the limits of the rule set rs, and
// returns its JSON by file name.
func Render(rs *rules.RuleSet) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, d := range builders(rs) {
		dash, err := d.b.Build()
		if err != nil {
			return nil, fmt.Errorf("dashboards: build %s: %w", d.file, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // keep "<" and "&" readable in queries
		if err := enc.Encode(dash); err != nil {
			return nil, fmt.Errorf("dashboards: encode %s: %w", d.file, err)
		}
		out[d.file] = buf.Bytes()
	}
	return out, nil
}

// Write renders every dashboard into dir, one JSON file each.
func Write(dir string, rs *rules.RuleSet) ([]string, error) {
	files, err := Render(rs)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dashboards: %w", err)
	}
	var written []string
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return written, fmt.Errorf("dashboards: write %s: %w", p, err)
		}
		written = append(written, p)
	}
	return written, nil
}
