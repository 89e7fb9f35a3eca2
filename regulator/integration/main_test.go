package integration

import (
	"context"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/registry"
	"github.com/cradlewatch/cradlewatch/regulator/compliance"
	"github.com/cradlewatch/cradlewatch/regulator/internal/seed"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Idle keep-alive connections of http.DefaultClient to influxd.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

const db = "cradlewatch"

// env is a server with a seeded week and its rollups written.
type env struct {
	srv   *influxd.Server
	query *influxql.Client
	data  *seed.Data
	hours []compliance.Hour
	loc   *time.Location
	rs    *rules.RuleSet
	reg   *registry.Registry
}

// weekStart is a Monday in the cooling season, midnight Beijing time.
func weekStart(t testing.TB) (time.Time, *time.Location) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(2026, 6, 1, 0, 0, 0, 0, loc), loc
}

func setup(t *testing.T) *env {
	t.Helper()
	srv := testenv.Influx(t)
	if err := srv.CreateDatabase(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	from, loc := weekStart(t)
	data := seed.Week(from)
	if err := srv.WriteLines(t.Context(), db, data.Lines); err != nil {
		t.Fatalf("seed: %v", err)
	}
	q := &influxql.Client{URL: srv.URL(), Database: db}
	client := influxdb2.NewClient(srv.URL(), "")
	defer client.Close()
	rs := seed.Rules(t)
	reg := registry.Fixed(seed.Registry()...)
	roller, err := compliance.New(compliance.Options{Query: q, Writer: client.WriteAPIBlocking("", db+"/autogen"), Rules: rs, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	hours, err := roller.Compute(context.Background(), data.From, data.To)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roller.Run(context.Background(), data.From, data.To); err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, query: q, data: data, hours: hours, loc: loc, rs: rs, reg: reg}
}

// TestRegulatorViews runs everything against one seeded server: starting
// influxd and seeding a week is the slow part.
func TestRegulatorViews(t *testing.T) {
	e := setup(t)
	t.Run("compliance", func(t *testing.T) { testCompliance(t, e) })
	t.Run("dashboards", func(t *testing.T) { testDashboards(t, e) })
	t.Run("days", func(t *testing.T) { testDailyBuckets(t, e) })
	t.Run("overview", func(t *testing.T) { testOverviewFigures(t, e) })
	t.Run("report", func(t *testing.T) { testReport(t, e) })
}
