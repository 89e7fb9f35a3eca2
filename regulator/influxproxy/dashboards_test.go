package influxproxy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/regulator/dashboards"
)

// dashboardDir holds the dashboards Grafana is provisioned with.
var dashboardDir = filepath.Join("..", "..", "deploy", "grafana", "dashboards")

// dashQuery is one InfluxQL query of a provisioned dashboard.
type dashQuery struct {
	where string // file and JSON path
	query string
}

// dashboardQueries reads every query on the InfluxDB datasource in the
// committed dashboard JSON: panel targets, template variables and
// annotations, at any depth (rows nest panels), with the datasource
// inherited from the enclosing object as Grafana does.
func dashboardQueries(t testing.TB) []dashQuery {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dashboardDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: %v", dashboardDir, err)
	}
	var out []dashQuery
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walkDashboard(doc, filepath.Base(f), "", func(path, q string) {
			out = append(out, dashQuery{path, q})
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].where < out[j].where })
	return out
}

func walkDashboard(v any, path, dsUID string, found func(path, q string)) {
	switch v := v.(type) {
	case map[string]any:
		if ds, ok := v["datasource"].(map[string]any); ok {
			if uid, ok := ds["uid"].(string); ok {
				dsUID = uid
			}
		}
		if q, ok := v["query"].(string); ok && dsUID == dashboards.InfluxUID && q != "" {
			name, _ := v["title"].(string)
			if name == "" {
				name, _ = v["name"].(string)
			}
			found(path+" "+name, q)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walkDashboard(v[k], path+"/"+k, dsUID, found)
		}
	case []any:
		for i, x := range v {
			walkDashboard(x, fmt.Sprintf("%s[%d]", path, i), dsUID, found)
		}
	}
}

// grafanaVars are the values of the dashboards' variables. A variable set
// to All (allValue ".*") is ".*"; a multi-value selection inside a regex
// is Grafana's "(a|b)" with the values regex-escaped.
type grafanaVars map[string][]string

// interpolate does what Grafana does to a raw InfluxQL query before
// sending it: $timeFilter, $__interval and the template variables.
func interpolate(q string, vars grafanaVars, from, to time.Time, interval string) string {
	q = strings.ReplaceAll(q, "$timeFilter", fmt.Sprintf("time >= %dms and time <= %dms", from.UnixMilli(), to.UnixMilli()))
	q = strings.ReplaceAll(q, "$__interval", interval)
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	// Longest first, so that $street never eats into a longer name.
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, n := range names {
		q = strings.ReplaceAll(q, "$"+n, regexValue(vars[n]))
	}
	return q
}

func regexValue(vals []string) string {
	switch len(vals) {
	case 0:
		return ".*" // All
	case 1:
		return regexp.QuoteMeta(vals[0])
	}
	esc := make([]string, len(vals))
	for i, v := range vals {
		esc[i] = regexp.QuoteMeta(v)
	}
	return "(" + strings.Join(esc, "|") + ")"
}

// allVars is every variable at All, as a county regulator opens a
// dashboard and as the proxy must handle: All no longer means everything.
var allVars = grafanaVars{"province": nil, "city": nil, "county": nil, "street": nil, "facility": nil, "room": nil}

// TestDashboardQueriesAreScoped: every query of every provisioned
// dashboard is accepted for a county, a street and the whole country.
// TestProxyDashboards runs them on influxd.
func TestDashboardQueriesAreScoped(t *testing.T) {
	s := newTestScope(t)
	qs := dashboardQueries(t)
	if len(qs) < 30 {
		t.Fatalf("only %d InfluxDB queries found in %s", len(qs), dashboardDir)
	}
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, region := range []model.RegionCode{county, model.MustRegionCode("110105001"), model.Nationwide()} {
		for _, dq := range qs {
			q := interpolate(dq.query, allVars, from, from.Add(24*time.Hour), "10m")
			if _, err := s.Rewrite(q, nil, region); err != nil {
				t.Errorf("%s for %v: %v\n%s", dq.where, region, err, q)
			}
		}
	}
}
