package influxproxy

import (
	"strconv"
	"strings"

	"github.com/influxdata/influxql"
)

// render turns a parsed query back into text for InfluxDB. The library's
// String is exact except for float literals, which it prints with three
// decimals (0.0805 would become 0.081): those are replaced by exactNumber
// first. render changes q in place.
func render(q *influxql.Query) string {
	exact := func(e influxql.Expr) influxql.Expr {
		if n, ok := e.(*influxql.NumberLiteral); ok {
			return exactNumber{n}
		}
		return e
	}
	exactIn := func(e influxql.Expr) influxql.Expr {
		if e == nil {
			return nil
		}
		return influxql.RewriteExpr(e, exact)
	}
	var sel func(st *influxql.SelectStatement)
	sel = func(st *influxql.SelectStatement) {
		for _, f := range st.Fields {
			f.Expr = exactIn(f.Expr)
		}
		for _, d := range st.Dimensions {
			d.Expr = exactIn(d.Expr)
		}
		st.Condition = exactIn(st.Condition)
		for _, src := range st.Sources {
			if sq, ok := src.(*influxql.SubQuery); ok {
				sel(sq.Statement)
			}
		}
	}
	for _, st := range q.Statements {
		switch st := st.(type) {
		case *influxql.SelectStatement:
			sel(st)
		case *influxql.ShowTagValuesStatement:
			st.Condition = exactIn(st.Condition)
		case *influxql.ShowSeriesStatement:
			st.Condition = exactIn(st.Condition)
		case *influxql.ShowTagKeysStatement:
			st.Condition = exactIn(st.Condition)
		case *influxql.ShowMeasurementsStatement:
			st.Condition = exactIn(st.Condition)
		}
	}
	return q.String()
}

// exactNumber prints a float literal with as many digits as it needs to
// parse back to the same float, and always with a decimal point, so that
// it stays a float (2.0, not the integer 2).
type exactNumber struct{ *influxql.NumberLiteral }

func (n exactNumber) String() string {
	s := strconv.FormatFloat(n.Val, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}
