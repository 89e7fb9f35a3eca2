package influxproxy

import (
	"errors"
	"strings"
	"testing"

	"github.com/influxdata/influxql"

	"github.com/cradlewatch/cradlewatch/model"
)

const db = "cradlewatch"

var county = model.MustRegionCode("110105")

func newTestScope(t testing.TB) *Scope {
	t.Helper()
	s, err := NewScope(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// allKnown is the FROM list an empty SHOW FROM becomes.
var allKnown = strings.Join(DefaultMeasurements(), ", ")

func TestRewriteScopes(t *testing.T) {
	s := newTestScope(t)
	const c = `county::tag = '110105'`
	cases := []struct{ name, in, want string }{
		{"no where", `SELECT value FROM co2`, `SELECT value FROM co2 WHERE ` + c},
		{"user where in parentheses", `SELECT mean(value) FROM co2 WHERE time > now() - 1h GROUP BY time(1m)`,
			`SELECT mean(value) FROM co2 WHERE (time > now() - 1h) AND ` + c + ` GROUP BY time(1m)`},
		{"OR 1=1 stays inside", `SELECT value FROM co2 WHERE facility = 'x' OR 1=1`,
			`SELECT value FROM co2 WHERE (facility = 'x' OR 1 = 1) AND ` + c},
		{"regex on the region tag stays inside", `SELECT value FROM co2 WHERE county =~ /.*/`,
			`SELECT value FROM co2 WHERE (county =~ /.*/) AND ` + c},
		{"the user's own region condition is kept", `SELECT value FROM co2 WHERE county::tag = '110108'`,
			`SELECT value FROM co2 WHERE (county::tag = '110108') AND ` + c},
		{"subqueries scoped, outer left alone",
			`SELECT sum(x) FROM (SELECT max(x) AS x FROM (SELECT last(online) AS x FROM gateway_status WHERE a = 'b' GROUP BY facility) GROUP BY facility)`,
			`SELECT sum(x) FROM (SELECT max(x) AS x FROM (SELECT last(online) AS x FROM gateway_status WHERE (a = 'b') AND ` + c + ` GROUP BY facility) GROUP BY facility)`},
		{"outer with a where over a subquery", `SELECT count(v) FROM (SELECT last(value) AS v FROM alert_event GROUP BY rule) WHERE state != 'resolved'`,
			`SELECT count(v) FROM (SELECT last(value) AS v FROM alert_event WHERE ` + c + ` GROUP BY rule) WHERE state != 'resolved'`},
		{"several measurements", `SELECT value FROM co2, hcho WHERE value > 1`, `SELECT value FROM co2, hcho WHERE (value > 1) AND ` + c},
		{"any retention policy of the database", `SELECT value FROM "rp".hcho`, `SELECT value FROM rp.hcho WHERE ` + c},
		{"two statements", `SELECT value FROM co2; SELECT value FROM hcho WHERE value > 0.1`,
			"SELECT value FROM co2 WHERE " + c + ";\nSELECT value FROM hcho WHERE (value > 0.1) AND " + c},
		{"database and policy named", `SELECT value FROM "cradlewatch"."autogen"."co2"`, `SELECT value FROM cradlewatch.autogen.co2 WHERE ` + c},
		{"show tag values, every measurement", `SHOW TAG VALUES WITH KEY = "county"`,
			`SHOW TAG VALUES FROM ` + allKnown + ` WITH KEY = county WHERE ` + c},
		{"show tag values chained like a Grafana variable", `SHOW TAG VALUES FROM "gateway_status" WITH KEY = "street" WHERE "province" =~ /^.*$/ AND "city" =~ /^.*$/`,
			`SHOW TAG VALUES FROM gateway_status WITH KEY = street WHERE (province =~ /^.*$/ AND city =~ /^.*$/) AND ` + c},
		{"show series", `SHOW SERIES FROM co2 WHERE facility = 'a' OR true`, `SHOW SERIES FROM co2 WHERE (facility = 'a' OR true) AND ` + c},
		{"show tag keys", `SHOW TAG KEYS FROM co2`, `SHOW TAG KEYS FROM co2 WHERE ` + c},
		{"show measurements", `SHOW MEASUREMENTS`, `SHOW MEASUREMENTS WHERE ` + c},
		{"show measurements with a name regex", `SHOW MEASUREMENTS WITH MEASUREMENT =~ /co.*/ LIMIT 10`, `SHOW MEASUREMENTS WITH MEASUREMENT =~ /co.*/ WHERE ` + c + ` LIMIT 10`},
		{"float literals exact", `SELECT value FROM hcho WHERE value > 0.0805 AND value < 2.0`,
			`SELECT value FROM hcho WHERE (value > 0.0805 AND value < 2.0) AND ` + c},
		{"percentile and fill", `SELECT percentile(value, 99.95) FROM co2 GROUP BY time(1h) fill(0.5)`,
			`SELECT percentile(value, 99.95) FROM co2 WHERE ` + c + ` GROUP BY time(1h) fill(0.5)`},
		{"time zone", `SELECT count(value) FROM co2 GROUP BY time(1d) TZ('Asia/Shanghai')`,
			`SELECT count(value) FROM co2 WHERE ` + c + ` GROUP BY time(1d) TZ('Asia/Shanghai')`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Rewrite(tc.in, nil, county)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("accepted %q as %q", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRewriteLevels(t *testing.T) {
	s := newTestScope(t)
	f := func(region model.RegionCode, want string) {
		t.Helper()
		got, err := s.Rewrite(`SELECT value FROM co2`, nil, region)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%v: got %s, want %s", region, got, want)
		}
	}
	f(model.MustRegionCode("110000"), `SELECT value FROM co2 WHERE province::tag = '110000'`)
	f(model.MustRegionCode("110100"), `SELECT value FROM co2 WHERE city::tag = '110100'`)
	f(model.MustRegionCode("110105001"), `SELECT value FROM co2 WHERE street::tag = '110105001'`)
	f(model.Nationwide(), `SELECT value FROM co2`)
	if _, err := s.Rewrite(`SELECT value FROM co2`, nil, model.RegionCode{}); reasonOf(err) != ReasonUser {
		t.Errorf("zero region: %v", err)
	}
}

func reasonOf(err error) Reason {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

func TestRewriteRefuses(t *testing.T) {
	s := newTestScope(t)
	cases := []struct {
		in   string
		want Reason
	}{
		{``, ReasonRequest},
		{`;`, ReasonRequest},
		{`SELEC value FROM co2`, ReasonParse},
		{`SELECT value FROM co2 WHERE county = '110105`, ReasonParse},
		{`DROP DATABASE cradlewatch`, ReasonStatement},
		{`DROP MEASUREMENT co2`, ReasonStatement},
		{`DROP SERIES FROM co2 WHERE county = '110108'`, ReasonStatement},
		{`DELETE FROM co2 WHERE time < now()`, ReasonStatement},
		{`CREATE DATABASE x`, ReasonStatement},
		{`CREATE USER x WITH PASSWORD 'y' WITH ALL PRIVILEGES`, ReasonStatement},
		{`GRANT ALL TO x`, ReasonStatement},
		{`CREATE RETENTION POLICY r ON cradlewatch DURATION 1d REPLICATION 1`, ReasonStatement},
		{`CREATE CONTINUOUS QUERY cq ON cradlewatch BEGIN SELECT mean(value) INTO x FROM co2 GROUP BY time(1h) END`, ReasonStatement},
		{`KILL QUERY 1`, ReasonStatement},
		{`EXPLAIN SELECT value FROM co2`, ReasonStatement},
		{`EXPLAIN ANALYZE SELECT value FROM co2`, ReasonStatement},
		{`SHOW DATABASES`, ReasonStatement},
		{`SHOW RETENTION POLICIES`, ReasonStatement},
		{`SHOW USERS`, ReasonStatement},
		{`SHOW GRANTS FOR x`, ReasonStatement},
		{`SHOW FIELD KEYS FROM co2`, ReasonStatement},
		{`SHOW STATS`, ReasonStatement},
		{`SHOW DIAGNOSTICS`, ReasonStatement},
		{`SHOW QUERIES`, ReasonStatement},
		{`SHOW SHARDS`, ReasonStatement},
		{`SHOW SHARD GROUPS`, ReasonStatement},
		{`SHOW CONTINUOUS QUERIES`, ReasonStatement},
		{`SHOW SUBSCRIPTIONS`, ReasonStatement},
		{`SHOW SERIES CARDINALITY`, ReasonStatement},
		{`SHOW TAG VALUES CARDINALITY WITH KEY = "facility"`, ReasonStatement},
		{`SHOW MEASUREMENT EXACT CARDINALITY`, ReasonStatement},
		{`SELECT value INTO copy FROM co2`, ReasonInto},
		{`SELECT * FROM /.*/`, ReasonSource},
		{`SELECT * FROM co2, /.*/`, ReasonSource},
		{`SELECT * FROM secrets`, ReasonSource},
		{`SELECT * FROM "_internal"."monitor"."runtime"`, ReasonDatabase},
		{`SELECT * FROM other..co2`, ReasonDatabase},
		{`SELECT * FROM (SELECT * FROM /.*/)`, ReasonSource},
		{`SELECT * FROM (SELECT * FROM secrets)`, ReasonSource},
		{`SELECT * FROM (SELECT * FROM "_internal".."runtime")`, ReasonDatabase},
		{`SHOW TAG VALUES FROM /.*/ WITH KEY = "county"`, ReasonSource},
		{`SHOW TAG VALUES ON "_internal" WITH KEY = "hostname"`, ReasonDatabase},
		{`SHOW SERIES ON other`, ReasonDatabase},
		{`SHOW MEASUREMENTS ON other`, ReasonDatabase},
		{`SHOW TAG KEYS FROM secrets`, ReasonSource},
		{`SELECT value FROM co2; DROP DATABASE cradlewatch`, ReasonStatement},
		{`SELECT value FROM co2; SELECT * INTO x FROM co2`, ReasonInto},
		{`SHOW MEASUREMENTS WHERE facility = '110108003-0001'`, ReasonStatement},
	}
	for _, tc := range cases {
		got, err := s.Rewrite(tc.in, nil, county)
		if r := reasonOf(err); r != tc.want {
			t.Errorf("%q: reason %q (%v, %q), want %q", tc.in, r, err, got, tc.want)
		}
	}
}

// TestRewriteBindsParameters: bound parameters become literals of the
// parsed query, so no value can add syntax, and they are never sent on.
func TestRewriteBindsParameters(t *testing.T) {
	s := newTestScope(t)
	const c = ` AND county::tag = '110105'`
	cases := []struct {
		q      string
		params map[string]any
		want   string
		reason Reason
	}{
		{`SELECT value FROM co2 WHERE facility = $f`, map[string]any{"f": "x' OR 1=1 OR facility='y"},
			`SELECT value FROM co2 WHERE (facility = 'x\' OR 1=1 OR facility=\'y')` + c, ""},
		{`SELECT value FROM co2 WHERE facility = $f`, map[string]any{"f": `x') OR county::tag = '110108' OR ('`},
			`SELECT value FROM co2 WHERE (facility = 'x\') OR county::tag = \'110108\' OR (\'')` + c, ""},
		{`SELECT value FROM $m`, map[string]any{"m": map[string]any{"identifier": "co2"}}, `SELECT value FROM co2 WHERE county::tag = '110105'`, ""},
		{`SELECT value FROM $m`, map[string]any{"m": map[string]any{"identifier": "co2 WHERE 1=1; DROP DATABASE cradlewatch"}}, "", ReasonSource},
		{`SELECT value FROM $m`, map[string]any{"m": map[string]any{"regex": ".*"}}, "", ReasonSource},
		{`SELECT value FROM co2 WHERE county =~ $r`, map[string]any{"r": map[string]any{"regex": ".*"}},
			`SELECT value FROM co2 WHERE (county =~ /.*/)` + c, ""},
		{`SELECT value FROM co2 WHERE facility = $missing`, nil, "", ReasonParse},
	}
	for _, tc := range cases {
		got, err := s.Rewrite(tc.q, tc.params, county)
		if reasonOf(err) != tc.reason || got != tc.want {
			t.Errorf("%s %v:\n got %q %v\nwant %q %q", tc.q, tc.params, got, err, tc.want, tc.reason)
		}
	}
}

// TestVerifyCatches feeds the invariant check queries a faulty rewriter
// could produce: each must fail it.
func TestVerifyCatches(t *testing.T) {
	s := newTestScope(t)
	tag := regionTagOf(county)
	bad := []string{
		`SELECT value FROM co2`,
		`SELECT value FROM co2 WHERE a = 1 OR county::tag = '110105'`,
		`SELECT value FROM co2 WHERE county::tag = '110105' OR a = 1`,
		`SELECT value FROM co2 WHERE county::tag = '110105' AND a = 1`,
		`SELECT value FROM co2 WHERE county = '110105'`,
		`SELECT value FROM co2 WHERE county::field = '110105'`,
		`SELECT value FROM co2 WHERE county::tag = '110108'`,
		`SELECT value FROM co2 WHERE street::tag = '110105'`,
		`SELECT value FROM co2 WHERE county::tag =~ /110105/`,
		`SELECT value FROM co2 WHERE county::tag != '110105'`,
		`SELECT value FROM co2 WHERE (a = 1 AND county::tag = '110105')`,
		`SELECT value FROM co2 WHERE a = 1 OR b = 2 AND county::tag = '110105' AND county::tag = '110105'`,
		`SELECT * FROM (SELECT value FROM co2) WHERE county::tag = '110105'`,
		`SELECT * FROM (SELECT value FROM co2 WHERE county::tag = '110105'), hcho`,
		`SELECT * FROM (SELECT * FROM (SELECT value FROM co2) WHERE county::tag = '110105')`,
		`SELECT value INTO x FROM co2 WHERE county::tag = '110105'`,
		`SELECT value FROM /co2/ WHERE county::tag = '110105'`,
		`SELECT value FROM secrets WHERE county::tag = '110105'`,
		`SHOW TAG VALUES WITH KEY = "x" WHERE county::tag = '110105'`,
		`SHOW TAG VALUES FROM co2 WITH KEY = "x"`,
		`SHOW SERIES FROM co2 WHERE a = 1 OR county::tag = '110105'`,
		`SHOW TAG KEYS FROM co2`,
		`SHOW MEASUREMENTS`,
		`SHOW MEASUREMENTS WHERE a = 1 AND county::tag = '110105'`,
		`SHOW FIELD KEYS FROM co2`,
		`SHOW DATABASES`,
		`SELECT value FROM co2 WHERE county::tag = '110105'; SELECT value FROM co2`,
	}
	for _, q := range bad {
		parsed, err := influxql.ParseQuery(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if err := s.verify(parsed, tag); err == nil {
			t.Errorf("verify passed %s", q)
		}
	}
	good := []string{
		`SELECT value FROM co2 WHERE county::tag = '110105'`,
		`SELECT value FROM co2 WHERE (a = 1 OR b = 2) AND county::tag = '110105'`,
		`SELECT * FROM (SELECT value FROM co2 WHERE county::tag = '110105')`,
		`SHOW MEASUREMENTS WHERE county::tag = '110105'`,
	}
	for _, q := range good {
		parsed, err := influxql.ParseQuery(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if err := s.verify(parsed, tag); err != nil {
			t.Errorf("verify refused %s: %v", q, err)
		}
	}
}

func TestExactNumbers(t *testing.T) {
	for _, v := range []float64{0.0805, 2, -3.25, 1e-9, 123456789.125, 0.1 + 0.2} {
		s := exactNumber{&influxql.NumberLiteral{Val: v}}.String()
		e, err := influxql.ParseExpr(s)
		if err != nil {
			t.Fatalf("%v renders as %q: %v", v, s, err)
		}
		n, ok := e.(*influxql.NumberLiteral)
		if !ok || n.Val != v {
			t.Errorf("%v renders as %q, parses as %#v", v, s, e)
		}
	}
}
