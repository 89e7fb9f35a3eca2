package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/cradlewatch/cradlewatch/internal/influxql"
)

// testDailyBuckets: on real influxd, every daily panel's days begin at
// midnight in Beijing (without the zone, InfluxDB begins them at UTC
// midnight, 08:00 in Beijing).
func testDailyBuckets(t *testing.T, e *env) {
	vars := map[string]string{"province": ".*", "city": ".*", "county": ".*", "street": ".*", "facility": ".*", "room": ".*"}
	timeFilter := influxql.TimeRange(e.data.From, e.data.To)
	daily := 0
	for _, dq := range extractQueries(t, e.rs) {
		if !strings.Contains(dq.query, "time(1d)") {
			continue
		}
		daily++
		series, err := e.query.Query(context.Background(), interpolate(dq.query, vars, timeFilter))
		if err != nil {
			t.Fatalf("%s: %v", dq.where, err)
		}
		rows := 0
		for _, s := range series {
			for _, row := range s.Values {
				rows++
				if at := influxql.Time(row[0]).In(e.loc); at.Hour() != 0 || at.Minute() != 0 {
					t.Errorf("%s: a day begins at %s", dq.where, at.Format("2006-01-02 15:04 MST"))
				}
			}
		}
		if rows == 0 {
			t.Errorf("%s: no day", dq.where)
		}
	}
	if daily == 0 {
		t.Fatal("no daily panel found")
	}
}
