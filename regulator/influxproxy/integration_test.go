package influxproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/influxql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// The integration tests check the proxy against an oracle. Two influxd
// servers: "full" holds both counties (and county B's traps), "onlyA"
// holds county A alone. A county A user's query through the proxy must
// get the same answer from both: whatever it returns from the full
// database, it would have returned had county B never existed. That
// covers aggregates and counts, where rows show no county. The whole
// country's queries through the proxy must get what they get from InfluxDB
// directly: the rewriting changes nothing but the scope.

// integrationEnv is the two servers, a proxy in front of each and a client.
type integrationEnv struct {
	full, onlyA   *influxd.Server
	pFull, pOnlyA *Proxy
	client        *http.Client
}

func newIntegrationEnv(t *testing.T) *integrationEnv {
	ctx := context.Background()
	e := &integrationEnv{client: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(e.client.CloseIdleConnections)
	e.full, e.onlyA = testenv.Influx(t), testenv.Influx(t)
	for _, s := range []struct {
		srv   *influxd.Server
		keep  model.RegionCode
		traps bool
	}{{e.full, model.Nationwide(), true}, {e.onlyA, countyA, false}} {
		if err := s.srv.CreateDatabase(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := s.srv.Write(ctx, db, seedLines(s.keep, s.traps)); err != nil {
			t.Fatal(err)
		}
	}
	e.pFull, e.pOnlyA = e.startProxy(t, e.full), e.startProxy(t, e.onlyA)
	return e
}

func (e *integrationEnv) startProxy(t *testing.T, srv *influxd.Server) *Proxy {
	p, err := New(Options{Config: testConfig(srv.URL()), Resolver: testUsers, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy: %v", err)
		}
	})
	return p
}

// answer is an HTTP answer: status and decoded JSON body.
type answer struct {
	status int
	body   any
	raw    string
}

func (a answer) refused() bool { return a.status != http.StatusOK }

// hasData reports whether any statement returned a row.
func (a answer) hasData() bool {
	var r struct {
		Results []struct {
			Series []struct{ Values [][]any }
		}
	}
	_ = json.Unmarshal([]byte(a.raw), &r)
	for _, res := range r.Results {
		for _, s := range res.Series {
			if len(s.Values) > 0 {
				return true
			}
		}
	}
	return false
}

// statementError is the first error InfluxDB reported for a statement.
func (a answer) statementError() string {
	var r struct{ Results []struct{ Error string } }
	_ = json.Unmarshal([]byte(a.raw), &r)
	for _, res := range r.Results {
		if res.Error != "" {
			return res.Error
		}
	}
	return ""
}

func (e *integrationEnv) get(t *testing.T, u string, form url.Values, user string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u+"/query?"+form.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(testUser, testSecret)
		req.Header.Set(UserHeader, user)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, raw: string(raw)}
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&a.body); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, raw)
	}
	return a
}

// ask sends q through proxy p as user, with Grafana's db and epoch.
func (e *integrationEnv) ask(t *testing.T, p *Proxy, user, q string, params string) answer {
	t.Helper()
	form := url.Values{"db": {db}, "q": {q}, "epoch": {"ms"}}
	if params != "" {
		form.Set("params", params)
	}
	return e.get(t, "http://"+p.Addr(), form, user)
}

// direct sends q to InfluxDB itself.
func (e *integrationEnv) direct(t *testing.T, srv *influxd.Server, q string) answer {
	t.Helper()
	return e.get(t, srv.URL(), url.Values{"db": {db}, "q": {q}, "epoch": {"ms"}}, "")
}

// sameForCountyA asserts the oracle for the county A user and that the
// answer names nothing of county B; it returns the full server's answer.
// A SHOW statement's answer is held to the second check only: when a
// name is both a tag and a field (county B's trap), InfluxDB resolves it in
// a SHOW condition differently from one moment to the next, so the user's
// own term may select differently in the two datasets; the region term is
// ::tag and is not affected, which is what the second check shows.
func (e *integrationEnv) sameForCountyA(t *testing.T, q, params string) answer {
	t.Helper()
	full := e.ask(t, e.pFull, "chaoyang", q, params)
	onlyA := e.ask(t, e.pOnlyA, "chaoyang", q, params)
	differ := full.status != onlyA.status
	if !differ && full.refused() {
		differ = !reflect.DeepEqual(full.body, onlyA.body)
	}
	if !differ && !full.refused() {
		fr, ar := full.results(), onlyA.results()
		show := showStatements(t, q, params)
		if len(fr) != len(show) || len(ar) != len(show) { // InfluxDB stopped at an error
			differ = !reflect.DeepEqual(full.body, onlyA.body)
		}
		for i := 0; !differ && i < len(fr) && i < len(ar); i++ {
			differ = !show[i] && !reflect.DeepEqual(fr[i], ar[i])
		}
	}
	if differ {
		t.Errorf("county B changes what county A sees:\nquery  %s\nfull   %d %s\nonly A %d %s", q, full.status, clip(full.raw, 2000), onlyA.status, clip(onlyA.raw, 2000))
	}
	if s := namesCountyB(full.body); s != "" {
		t.Errorf("answer names county B (%s): %s\n%s", s, q, clip(full.raw, 2000))
	}
	return full
}

// results are the answer's per-statement results.
func (a answer) results() []any {
	m, _ := a.body.(map[string]any)
	r, _ := m["results"].([]any)
	return r
}

// showStatements tells, statement by statement, whether q's is a SHOW.
func showStatements(t *testing.T, q, params string) []bool {
	t.Helper()
	p := influxql.NewParser(strings.NewReader(q))
	bound, err := decodeParams(params)
	if err != nil {
		t.Fatal(err)
	}
	p.SetParams(bound)
	parsed, err := p.ParseQuery()
	if err != nil {
		t.Fatalf("forwarded, yet does not parse: %v", err)
	}
	out := make([]bool, len(parsed.Statements))
	for i, st := range parsed.Statements {
		_, sel := st.(*influxql.SelectStatement)
		out[i] = !sel
	}
	return out
}

// namesCountyB returns the first string in v that is a county B code or
// ID ("110108...") or a series key with a county B tag, or "".
func namesCountyB(v any) string {
	switch v := v.(type) {
	case string:
		if strings.HasPrefix(v, countyB.String()) || strings.Contains(v, "="+countyB.String()) {
			return v
		}
	case map[string]any:
		for k, x := range v {
			if s := namesCountyB(k); s != "" {
				return s
			}
			if s := namesCountyB(x); s != "" {
				return s
			}
		}
	case []any:
		for _, x := range v {
			if s := namesCountyB(x); s != "" {
				return s
			}
		}
	}
	return ""
}

func TestProxyIntegration(t *testing.T) {
	e := newIntegrationEnv(t)
	t.Run("dataset sets the traps", func(t *testing.T) { testTrapsAreSet(t, e) })
	t.Run("dashboards", func(t *testing.T) { testDashboards(t, e) })
	t.Run("crafted", func(t *testing.T) { testCrafted(t, e) })
	t.Run("generated", func(t *testing.T) { testGenerated(t, e) })
	t.Run("county B", func(t *testing.T) { testOtherCounty(t, e) })
}

// testTrapsAreSet proves the test has teeth: queried directly, the full
// database does give county B's rows to county A's naive conditions.
func testTrapsAreSet(t *testing.T, e *integrationEnv) {
	for _, q := range []string{
		`SELECT * FROM humidity WHERE county = '110105'`,
		`SELECT * FROM co2 WHERE county = '110105' OR 1=1`,
	} {
		if a := e.direct(t, e.full, q); namesCountyB(a.body) == "" {
			t.Errorf("directly, %s returns nothing of county B: the trap is not set\n%s", q, clip(a.raw, 500))
		}
	}
}

// testDashboards runs every query of every provisioned dashboard, as
// Grafana interpolates it, through the proxy.
func testDashboards(t *testing.T, e *integrationEnv) {
	qs := dashboardQueries(t)
	to := seedFrom.Add(24 * time.Hour)
	selections := []struct {
		name string
		vars grafanaVars
	}{
		{"all", allVars},
		{"county A picked", grafanaVars{"province": {"110000"}, "city": {"110100"}, "county": {"110105"}, "street": {"110105001", "110105002"}, "facility": nil, "room": nil}},
		{"one facility and room", grafanaVars{"province": nil, "city": nil, "county": nil, "street": nil, "facility": {"110105001-0002"}, "room": {"toddler"}}},
		{"county B picked", grafanaVars{"province": nil, "city": nil, "county": {"110108"}, "street": nil, "facility": {"110108003-0001", "110108004-0001"}, "room": nil}},
	}
	for _, sel := range selections {
		for _, dq := range qs {
			t.Run(sel.name+"/"+dq.where, func(t *testing.T) {
				q := interpolate(dq.query, sel.vars, seedFrom, to, "10m")
				a := e.sameForCountyA(t, q, "")
				if a.refused() {
					t.Fatalf("refused: %s\n%s", a.raw, q)
				}
				if msg := a.statementError(); msg != "" {
					t.Fatalf("InfluxDB: %s\n%s", msg, q)
				}
				// Every query has county A data when county A is in the
				// selection (counts over nothing are no row, and shown as 0).
				if sel.name != "county B picked" && !a.hasData() && !strings.HasPrefix(dq.query, `SELECT count("value") FROM (`) {
					t.Errorf("no data: %s", q)
				}
				if sel.name == "county B picked" && a.hasData() && !strings.HasPrefix(dq.query, "SHOW") {
					t.Errorf("county A's user picked county B and got rows: %s\n%s", q, clip(a.raw, 1000))
				}
				// The whole country gets what InfluxDB itself answers.
				if whole, direct := e.ask(t, e.pFull, "admin", q, ""), e.direct(t, e.full, q); !reflect.DeepEqual(whole.body, direct.body) {
					t.Errorf("nationwide through the proxy differs from InfluxDB:\n%s\nproxy  %s\ndirect %s", q, clip(whole.raw, 1000), clip(direct.raw, 1000))
				}
			})
		}
	}
}

// crafted is an attempt and what the proxy must make of it: "" forwarded
// (and then the oracle holds), or the reason it refuses.
type crafted struct {
	q, params string
	refused   Reason
}

var craftedQueries = []crafted{
	{`SELECT * FROM co2`, "", ""},
	{`SELECT * FROM co2 WHERE county = '110108'`, "", ""},
	{`SELECT * FROM co2 WHERE 1=1 OR county = '110108'`, "", ""},
	{`SELECT * FROM co2 WHERE county =~ /.*/ OR true`, "", ""},
	{`SELECT * FROM co2 WHERE county::tag = '110108' OR county::tag = '110105'`, "", ""},
	{`SELECT * FROM co2 WHERE "county" =~ /^(110105|110108)$/`, "", ""},
	{`SELECT * FROM co2 WHERE facility =~ /110108/ OR street != ''`, "", ""},
	{`SELECT * FROM humidity WHERE county = '110105'`, "", ""},
	{`SELECT * FROM humidity WHERE county::field = '110105'`, "", ""},
	{`SELECT value, county FROM humidity WHERE value > 90`, "", ""},
	{`SELECT count(value) FROM co2 GROUP BY county`, "", ""},
	{`SELECT sum(value) FROM co2`, "", ""},
	{`SELECT count(value) FROM co2, humidity, gateway_status`, "", ""},
	{`SELECT top(value, facility, 20) FROM co2`, "", ""},
	{`SELECT last(online) FROM gateway_status GROUP BY *`, "", ""},
	{`SELECT * FROM (SELECT * FROM co2 WHERE county = '110108')`, "", ""},
	{`SELECT * FROM (SELECT value, county FROM co2) WHERE county = '110108' OR 1=1`, "", ""},
	{`SELECT max(m) FROM (SELECT mean(value) AS m FROM co2 GROUP BY facility, county) WHERE county =~ /.*/ GROUP BY county`, "", ""},
	{`SELECT * FROM (SELECT * FROM (SELECT * FROM alert_event WHERE state = 'firing' OR 1=1))`, "", ""},
	{`SELECT * FROM co2 WHERE facility = $f`, `{"f": "x' OR 1=1 OR facility != 'y"}`, ""},
	{`SELECT * FROM co2 WHERE facility = $f`, `{"f": "') OR county::tag = '110108' OR ('"}`, ""},
	{`SELECT * FROM $m WHERE county = $c`, `{"m": {"identifier": "gateway_status"}, "c": "110108"}`, ""},
	{`SELECT * FROM co2 WHERE county =~ $r`, `{"r": {"regex": ".*"}}`, ""},
	{`SELECT * FROM $m`, `{"m": {"regex": ".*"}}`, ReasonSource},
	{`SHOW TAG VALUES WITH KEY = "county"`, "", ""},
	{`SHOW TAG VALUES WITH KEY =~ /.*/`, "", ""},
	{`SHOW TAG VALUES FROM humidity WITH KEY = "facility" WHERE county = '110105'`, "", ""},
	{`SHOW TAG VALUES WITH KEY = "facility" WHERE county = '110108' OR 1=1`, "", ""},
	{`SHOW SERIES`, "", ""},
	{`SHOW SERIES FROM co2 WHERE county = '110108'`, "", ""},
	{`SHOW MEASUREMENTS`, "", ""},
	{`SHOW MEASUREMENTS WITH MEASUREMENT =~ /.*/`, "", ""},
	{`SHOW MEASUREMENTS WHERE county = '110108'`, "", ReasonStatement},
	{`SHOW TAG KEYS`, "", ""},
	{`SHOW TAG KEYS FROM humidity WHERE county = '110108' OR true`, "", ""},
	{`SELECT * FROM co2; SELECT * FROM gateway_status WHERE county = '110108'; SHOW TAG VALUES WITH KEY = "facility"`, "", ""},
	{`SELECT * FROM co2; SHOW DATABASES`, "", ReasonStatement},
	{`SELECT * FROM co2; DROP SERIES FROM co2 WHERE county = '110105'`, "", ReasonStatement},
	{`SELECT * FROM /.*/`, "", ReasonSource},
	{`SELECT * FROM secrets`, "", ReasonSource},
	{`SELECT * FROM orphan`, "", ReasonSource},
	{`SHOW TAG VALUES FROM /.*/ WITH KEY = "facility"`, "", ReasonSource},
	{`SELECT * FROM "_internal".."runtime"`, "", ReasonDatabase},
	{`SHOW FIELD KEYS FROM humidity`, "", ReasonStatement},
	{`SHOW DATABASES`, "", ReasonStatement},
	{`SHOW RETENTION POLICIES`, "", ReasonStatement},
	{`SHOW SERIES CARDINALITY`, "", ReasonStatement},
	{`SELECT * INTO stolen FROM co2`, "", ReasonInto},
	{`DELETE FROM co2`, "", ReasonStatement},
	{`DROP MEASUREMENT co2`, "", ReasonStatement},
	{`CREATE USER x WITH PASSWORD 'y' WITH ALL PRIVILEGES`, "", ReasonStatement},
}

func testCrafted(t *testing.T, e *integrationEnv) {
	for _, c := range craftedQueries {
		t.Run(c.q, func(t *testing.T) {
			a := e.sameForCountyA(t, c.q, c.params)
			if c.refused == "" {
				if a.refused() {
					t.Errorf("refused: %s", a.raw)
				}
				return
			}
			if !a.refused() || !strings.Contains(a.raw, "("+string(c.refused)+")") {
				t.Errorf("want refused (%s), got %d %s", c.refused, a.status, clip(a.raw, 500))
			}
		})
	}
	// Nothing was written or dropped.
	for _, q := range []string{`SELECT count(value) FROM co2`, `SHOW MEASUREMENTS`} {
		if a := e.direct(t, e.full, q); !a.hasData() || strings.Contains(a.raw, "stolen") {
			t.Errorf("after the crafted queries, %s: %s", q, clip(a.raw, 500))
		}
	}
}

// testGenerated composes a few hundred queries from hostile pieces with a
// fixed seed and holds every one to the oracle.
func testGenerated(t *testing.T, e *integrationEnv) {
	rng := rand.New(rand.NewPCG(15, 2026))
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	fields := []string{"*", "value", "count(value)", "sum(value)", "last(value), county", "max(value), facility", "mean(value) AS m", "distinct(facility)"}
	sources := []string{"co2", "humidity", "gateway_status", "alert_event", "compliance_hourly", "co2, humidity", "/.*/", "secrets",
		"(SELECT value, facility, county FROM co2)", "(SELECT mean(value) AS value FROM humidity GROUP BY county, facility)",
		"(SELECT * FROM (SELECT value FROM temperature WHERE county = '110108'))"}
	conds := []string{"", "county = '110108'", "county = '110105'", "1=1", "county =~ /.*/", "county::tag = '110108'", "county::field = '110105'",
		"facility =~ /^110108/", "street != ''", "value > 0", "time >= '2026-05-31T16:00:00Z'", "true", "value > 0.0805", "state = 'firing'"}
	joins := []string{" AND ", " OR "}
	groups := []string{"", " GROUP BY county", " GROUP BY *", " GROUP BY facility, time(1h)", " GROUP BY time(6h) fill(0)"}
	shows := []string{`SHOW TAG VALUES %sWITH KEY = "county"%s`, `SHOW TAG VALUES %sWITH KEY =~ /.*/%s`, `SHOW SERIES %s%s`, `SHOW TAG KEYS %s%s`, `SHOW MEASUREMENTS%.0s%s`}
	showFrom := []string{"", "FROM humidity ", "FROM co2, gateway_status ", "FROM /.*/ ", "FROM secrets "}
	where := func() string {
		var parts []string
		for i := rng.IntN(4); i > 0; i-- {
			parts = append(parts, pick(conds))
		}
		if len(parts) == 0 || parts[0] == "" {
			return ""
		}
		w := parts[0]
		for _, p := range parts[1:] {
			if p != "" {
				w += pick(joins) + p
			}
		}
		return " WHERE " + w
	}
	forwarded := 0
	const n = 400
	for i := range n {
		var q string
		if rng.IntN(4) == 0 {
			q = fmt.Sprintf(pick(shows), pick(showFrom), where())
		} else {
			q = "SELECT " + pick(fields) + " FROM " + pick(sources) + where() + pick(groups)
		}
		if rng.IntN(8) == 0 {
			q += "; SELECT count(value) FROM co2" + where()
		}
		a := e.sameForCountyA(t, q, "")
		if !a.refused() && a.statementError() == "" {
			forwarded++
		}
		if t.Failed() {
			t.Fatalf("stopped at query %d", i)
		}
	}
	// Most compositions are valid InfluxQL the proxy forwards: the oracle
	// was exercised, not only the refusals.
	if forwarded < n/3 {
		t.Errorf("only %d of %d generated queries were answered", forwarded, n)
	}
	t.Logf("%d of %d generated queries answered, the rest refused or InfluxDB errors, all alike for county A with and without county B", forwarded, n)
}

// testOtherCounty: the same proxy gives county B's user county B, and no
// user is ever given the other county.
func testOtherCounty(t *testing.T, e *integrationEnv) {
	for _, q := range []string{`SELECT * FROM co2`, `SHOW TAG VALUES WITH KEY = "facility"`, `SELECT last(online) FROM gateway_status GROUP BY facility`} {
		b := e.ask(t, e.pFull, "haidian", q, "")
		if !b.hasData() || strings.Contains(b.raw, `"110105`) || strings.Contains(b.raw, "=110105") || namesCountyB(b.body) == "" {
			t.Errorf("county B's user, %s: %s", q, clip(b.raw, 500))
		}
		a := e.ask(t, e.pFull, "chaoyang", q, "")
		if !a.hasData() || namesCountyB(a.body) != "" {
			t.Errorf("county A's user, %s: %s", q, clip(a.raw, 500))
		}
	}
}
