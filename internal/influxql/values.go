package influxql

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Float reads a numeric cell; ok is false for null or a non-number.
func Float(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// Time reads the time column of an answer in the default epoch
// (EpochMillis).
func Time(v any) time.Time {
	if n, ok := v.(json.Number); ok {
		if ms, err := n.Int64(); err == nil {
			return time.UnixMilli(ms)
		}
	}
	f, _ := Float(v)
	return time.UnixMilli(int64(f))
}

// Literal quotes a string for use as a tag value in a WHERE clause.
func Literal(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// QuoteIdent quotes an identifier (database, measurement, tag key).
func QuoteIdent(name string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
}

// TimeRange renders "time >= from AND time < to" in nanoseconds.
func TimeRange(from, to time.Time) string {
	return fmt.Sprintf("time >= %d AND time < %d", from.UnixNano(), to.UnixNano())
}

// Sum adds up every column after time over every row of every series: the
// total of a count query, grouped or not, with one count() or several
// (`SELECT count("a"),count("b")`). Grouped queries answer null for empty
// intervals, which counts as 0.
func Sum(series []Series) (int64, error) {
	var total int64
	for _, se := range series {
		if len(se.Columns) < 2 {
			return 0, fmt.Errorf("influxql: count: series %q has columns %v, want time and a count", se.Name, se.Columns)
		}
		for i, row := range se.Values {
			if len(row) < 2 {
				return 0, fmt.Errorf("influxql: count: series %q row %d is short", se.Name, i)
			}
			for _, v := range row[1:] {
				n, err := asInt64(v)
				if err != nil {
					return 0, fmt.Errorf("influxql: count: series %q row %d: %w", se.Name, i, err)
				}
				total += n
			}
		}
	}
	return total, nil
}

// asInt64 converts a decoded count.
func asInt64(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, fmt.Errorf("value %s is not a count", x)
		}
		return int64(f), nil
	default:
		return 0, fmt.Errorf("value %v (%T) is not a count", v, v)
	}
}
