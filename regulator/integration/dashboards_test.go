package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/regulator/dashboards"
)

// dashQuery is one InfluxQL statement found in a generated dashboard.
type dashQuery struct {
	where, query string
}

// extractQueries walks the dashboard JSON as Grafana would read it:
// variables, annotations and panel targets on the InfluxDB datasource.
func extractQueries(t *testing.T, rs *rules.RuleSet) []dashQuery {
	files, err := dashboards.Render(rs)
	if err != nil {
		t.Fatal(err)
	}
	var out []dashQuery
	for name, b := range files {
		var d struct {
			Templating struct {
				List []struct {
					Name, Query string
				}
			}
			Annotations struct {
				List []struct {
					Name   string
					Target struct{ Query string }
				}
			}
			Panels []struct {
				Title      string
				Datasource struct{ UID string }
				Targets    []struct {
					Query      string
					Datasource struct{ UID string }
				}
			}
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		for _, v := range d.Templating.List {
			out = append(out, dashQuery{name + " variable " + v.Name, v.Query})
		}
		for _, a := range d.Annotations.List {
			if a.Target.Query != "" {
				out = append(out, dashQuery{name + " annotation " + a.Name, a.Target.Query})
			}
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				if tg.Datasource.UID == dashboards.InfluxUID || (tg.Datasource.UID == "" && p.Datasource.UID == dashboards.InfluxUID) {
					out = append(out, dashQuery{name + " panel " + p.Title, tg.Query})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].where < out[j].where })
	return out
}

// interpolate does what Grafana does before sending a query.
func interpolate(q string, vars map[string]string, timeFilter string) string {
	r := []string{"$timeFilter", timeFilter, "$__interval", "1h"}
	// Longest names first: $street must not eat into $streets.
	for _, n := range []string{"facility", "province", "county", "street", "city", "room"} {
		r = append(r, "$"+n, vars[n])
	}
	return strings.NewReplacer(r...).Replace(q)
}

func testDashboards(t *testing.T, e *env) {
	queries := extractQueries(t, e.rs)
	if len(queries) < 30 {
		t.Fatalf("only %d InfluxQL queries found in the dashboards", len(queries))
	}
	timeFilter := influxql.TimeRange(e.data.From, e.data.To)
	scopes := []map[string]string{
		{"province": ".*", "city": ".*", "county": ".*", "street": ".*", "facility": ".*", "room": ".*"},
		// A county regulator (multi-value selections render as (a|b)).
		{"province": "110000", "city": "110100", "county": "110105", "street": "(110105001|110105002)", "facility": ".*", "room": ".*"},
		{"province": ".*", "city": ".*", "county": ".*", "street": ".*", "facility": "fac-b1", "room": "infant"},
	}
	for si, vars := range scopes {
		for _, dq := range queries {
			t.Run(fmt.Sprintf("scope%d/%s", si, dq.where), func(t *testing.T) {
				q := interpolate(dq.query, vars, timeFilter)
				series, err := e.query.Query(context.Background(), q)
				if err != nil {
					t.Fatalf("%v", err)
				}
				// A count over nothing is no row in InfluxQL (the stat
				// panels show 0 then); anything else must return data.
				empty := len(series) == 0 || len(series[0].Values) == 0
				if empty && !strings.HasPrefix(dq.query, `SELECT count("value") FROM (`) {
					t.Fatalf("no data for %s", q)
				}
			})
		}
	}
}

// testOverviewFigures checks the overview's stat panels against the seed,
// not only that they return something.
func testOverviewFigures(t *testing.T, e *env) {
	open, unackedCritical := 0, 0
	last := map[string]string{} // alert -> newest state
	sev := map[string]string{}
	for _, a := range e.data.Alerts { // appended in time order per alert
		if !a.Time.Before(e.data.To) {
			continue // after the dashboard's range
		}
		k := a.Facility + "/" + a.Room + "/" + a.Rule
		last[k], sev[k] = a.State, a.Severity
	}
	for k, s := range last {
		if s != "resolved" {
			open++
			if s != "acknowledged" && sev[k] == "critical" {
				unackedCritical++
			}
		}
	}
	vars := map[string]string{"province": ".*", "city": ".*", "county": ".*", "street": ".*", "facility": ".*", "room": ".*"}
	timeFilter := influxql.TimeRange(e.data.From, e.data.To)
	want := map[string]float64{
		"在线机构 Facilities online":          float64(len(e.data.Facilities)),
		"离线机构 Facilities offline":         0,
		"未关闭告警 Open alerts":               float64(open),
		"未确认严重告警 Unacknowledged critical": float64(unackedCritical),
	}
	for _, dq := range extractQueries(t, e.rs) {
		title, ok := strings.CutPrefix(dq.where, "region-overview.json panel ")
		w, check := want[title]
		if !ok || !check {
			continue
		}
		series, err := e.query.Query(context.Background(), interpolate(dq.query, vars, timeFilter))
		if err != nil {
			t.Fatal(err)
		}
		var got float64
		if len(series) > 0 && len(series[0].Values) > 0 {
			got, _ = influxql.Float(series[0].Values[0][1])
		}
		if got != w {
			t.Errorf("%s = %v, want %v (query %s)", title, got, w, dq.query)
		}
		delete(want, title)
	}
	for title := range want {
		t.Errorf("panel %q not found", title)
	}
}
