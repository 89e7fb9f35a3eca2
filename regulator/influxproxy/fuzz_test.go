package influxproxy

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/influxdata/influxql"
)

// FuzzRewrite: whatever the text and the bound parameters, the rewriter
// either refuses (with a *Refusal) or returns InfluxQL that parses and in
// which every measurement read is limited to the region. The check here
// walks the parsed answer with the library's own Walk and accepts the
// region condition anywhere among the top-level conjuncts: a different
// route from the proxy's own verify, which it backs up.
func FuzzRewrite(f *testing.F) {
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, dq := range dashboardQueries(f) {
		f.Add(interpolate(dq.query, allVars, from, from.Add(time.Hour), "1m"), "")
	}
	for _, q := range []string{
		`SELECT * FROM co2 WHERE county = '110108' OR 1=1`,
		`SELECT * FROM co2 WHERE county =~ /.*/ OR county::tag = '110108'`,
		`SELECT * FROM (SELECT * FROM (SELECT value FROM co2 WHERE true OR false)) WHERE county = '110108'`,
		`SELECT * FROM /.*/`,
		`SHOW TAG VALUES WITH KEY =~ /.*/ WHERE county = '110108' OR 1=1`,
		`SHOW SERIES; SHOW MEASUREMENTS; SHOW TAG KEYS FROM co2`,
		`SELECT value FROM co2; DROP DATABASE cradlewatch`,
		`SELECT value INTO x FROM co2`,
		`SELECT value FROM co2 WHERE facility = $f`,
		`SELECT value FROM $m WHERE county =~ $r`,
	} {
		f.Add(q, `{"f": "x' OR 1=1", "m": {"identifier": "co2"}, "r": {"regex": ".*"}}`)
	}
	s := newTestScope(f)
	tag := regionTagOf(county)
	f.Fuzz(func(t *testing.T, q, params string) {
		p, err := decodeParams(params)
		if err != nil {
			return
		}
		out, err := s.Rewrite(q, p, county)
		if err != nil {
			var r *Refusal
			if !errors.As(err, &r) {
				t.Fatalf("error is not a refusal: %v", err)
			}
			if r.Reason == ReasonUnverified {
				t.Fatalf("the rewriter produced a query its own check refuses: %v\n%s", err, q)
			}
			return
		}
		parsed, err := influxql.ParseQuery(out)
		if err != nil {
			t.Fatalf("rewritten query does not parse: %v\n%s", err, out)
		}
		if err := walkCheck(parsed, s, tag); err != nil {
			t.Fatalf("%v\n in: %s\nout: %s", err, q, out)
		}
	})
}

// walkCheck visits every node of q and checks the invariant.
func walkCheck(q *influxql.Query, s *Scope, tag *regionTag) error {
	var err error
	fail := func(format string, args ...any) {
		if err == nil {
			err = fmt.Errorf(format, args...)
		}
	}
	for _, st := range q.Statements {
		switch st.(type) {
		case *influxql.SelectStatement, *influxql.ShowTagValuesStatement, *influxql.ShowSeriesStatement,
			*influxql.ShowTagKeysStatement, *influxql.ShowMeasurementsStatement:
		default:
			fail("statement %s passed", st)
		}
	}
	influxql.WalkFunc(q, func(n influxql.Node) {
		switch n := n.(type) {
		case *influxql.SelectStatement:
			if n.Target != nil {
				fail("INTO passed")
			}
			for _, src := range n.Sources {
				if _, ok := src.(*influxql.Measurement); ok && !conjunct(n.Condition, tag) {
					fail("SELECT reads %s without the region condition", src)
				}
			}
		case *influxql.Measurement:
			if n.Regex != nil || !s.measurements[n.Name] || (n.Database != "" && n.Database != db) {
				fail("source %s passed", n)
			}
		case *influxql.ShowTagValuesStatement:
			if len(n.Sources) == 0 || !conjunct(n.Condition, tag) {
				fail("unscoped %s", n)
			}
		case *influxql.ShowSeriesStatement:
			if len(n.Sources) == 0 || !conjunct(n.Condition, tag) {
				fail("unscoped %s", n)
			}
		case *influxql.ShowTagKeysStatement:
			if len(n.Sources) == 0 || !conjunct(n.Condition, tag) {
				fail("unscoped %s", n)
			}
		case *influxql.ShowMeasurementsStatement:
			if !tag.is(n.Condition) {
				fail("SHOW MEASUREMENTS with a condition of its own: %s", n)
			}
		}
	})
	return err
}

// conjunct reports whether the region condition is one of the terms that
// e ANDs together at its top (parentheses looked through).
func conjunct(e influxql.Expr, tag *regionTag) bool {
	switch e := e.(type) {
	case *influxql.ParenExpr:
		return conjunct(e.Expr, tag)
	case *influxql.BinaryExpr:
		if e.Op == influxql.AND {
			return conjunct(e.LHS, tag) || conjunct(e.RHS, tag)
		}
		return tag.is(e)
	}
	return false
}

// TestDecodeParams covers the params= forms InfluxDB takes.
func TestDecodeParams(t *testing.T) {
	for _, good := range []string{``, `{}`, `{"a": 1, "b": "x", "c": {"identifier": "co2"}}`} {
		if _, err := decodeParams(good); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	for _, bad := range []string{`[]`, `{`, `{} {}`, `"x"`} {
		if _, err := decodeParams(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
