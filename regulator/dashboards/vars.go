package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// regionLevels are the region variables from the widest to the narrowest;
// each one's values are limited by the one before it, so a county
// regulator picks its county once and sees only its streets and facilities.
var regionLevels = []struct{ name, label string }{
	{"province", "省"},
	{"city", "市"},
	{"county", "区县"},
	{"street", "街道/乡镇"},
	{"facility", "托育机构"},
}

// regionFilter restricts a query to the selected region. All-values map to
// ".*" so the regex also matches when a variable is set to All.
const regionFilter = `"province" =~ /^$province$/ AND "city" =~ /^$city$/ AND "county" =~ /^$county$/ AND "street" =~ /^$street$/ AND "facility" =~ /^$facility$/`

// variables returns the chained region variables, each read from
// measurement (gateway_status: every facility has a gateway).
func variables(measurement string, upTo int) []cog.Builder[dashboard.VariableModel] {
	var out []cog.Builder[dashboard.VariableModel]
	where := ""
	for i, l := range regionLevels[:upTo] {
		q := fmt.Sprintf(`SHOW TAG VALUES FROM %q WITH KEY = %q%s`, measurement, l.name, where)
		v := dashboard.NewQueryVariableBuilder(l.name).
			Label(l.label).
			Query(dashboard.StringOrMap{String: &q}).
			Definition(q).
			Datasource(*influxDS()).
			Refresh(dashboard.VariableRefreshOnDashboardLoad).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			IncludeAll(true).
			AllValue(".*").
			Multi(true)
		out = append(out, v)
		if i == 0 {
			where = " WHERE "
		} else {
			where += " AND "
		}
		where += fmt.Sprintf(`%q =~ /^$%s$/`, l.name, l.name)
	}
	return out
}

// roomVariable lists the rooms of the selected facility.
func roomVariable() cog.Builder[dashboard.VariableModel] {
	q := `SHOW TAG VALUES FROM "temperature" WITH KEY = "room" WHERE "facility" =~ /^$facility$/`
	return dashboard.NewQueryVariableBuilder("room").
		Label("房间").
		Query(dashboard.StringOrMap{String: &q}).
		Definition(q).
		Datasource(*influxDS()).
		Refresh(dashboard.VariableRefreshOnDashboardLoad).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		IncludeAll(true).
		AllValue(".*").
		Multi(true)
}
