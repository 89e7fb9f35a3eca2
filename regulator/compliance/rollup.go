package compliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/influxql"
)

// Querier runs an InfluxQL statement; *influxql.Client is one.
type Querier interface {
	Query(ctx context.Context, q string) ([]influxql.Series, error)
}

// Options carry the rollup's dependencies.
type Options struct {
	Query  Querier              // required
	Writer api.WriteAPIBlocking // required by Run; Compute does not write
	Logger *slog.Logger         // nil: discard
	// Registerer receives the rollup's metrics; nil: not registered.
	Registerer prometheus.Registerer
	// OpeningHours defaults to DefaultOpeningHours.
	OpeningHours OpeningHours
	// Limits defaults to DefaultLimits.
	Limits func(facility string, t time.Time) Limits
	// Facilities lists the facilities to roll up; nil discovers them from
	// the gateway_status series (every facility has a gateway).
	Facilities func(ctx context.Context) ([]Facility, error)
}

// Roller computes and writes compliance_hourly.
type Roller struct {
	opts     Options
	log      *slog.Logger
	hours    prometheus.Counter
	failures *prometheus.CounterVec
}

// New checks opts and returns a Roller.
func New(opts Options) (*Roller, error) {
	if opts.Query == nil {
		return nil, errors.New("compliance: Options.Query is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.OpeningHours == nil {
		opts.OpeningHours = DefaultOpeningHours
	}
	if opts.Limits == nil {
		opts.Limits = DefaultLimits
	}
	r := &Roller{
		opts: opts,
		log:  opts.Logger.With("component", "compliance"),
		hours: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_regulator_rollup_hours_written_total",
			Help: "Facility-hours of compliance_hourly written.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_regulator_rollup_failures_total",
			Help: "Rollups that failed, by stage (discover, query, write).",
		}, []string{"stage"}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{r.hours, r.failures} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("compliance: register metrics: %w", err)
			}
		}
	}
	if opts.Facilities == nil {
		r.opts.Facilities = r.discover
	}
	return r, nil
}

// Run computes the hours in [from, to) and writes them. A facility whose
// queries fail is logged, counted and skipped, so one bad facility does
// not hold back everyone else's report; the first error is returned.
func (r *Roller) Run(ctx context.Context, from, to time.Time) (int, error) {
	if r.opts.Writer == nil {
		return 0, errors.New("compliance: Options.Writer is required to write rollups")
	}
	hours, err := r.Compute(ctx, from, to)
	points := make([]*write.Point, 0, len(hours))
	for _, h := range hours {
		fields := make(map[string]any, len(h.Fields))
		for k, v := range h.Fields {
			fields[k] = v
		}
		points = append(points, write.NewPoint(Measurement, map[string]string{
			"province": h.Facility.Province, "city": h.Facility.City, "county": h.Facility.County,
			"street": h.Facility.Street, "facility": h.Facility.ID,
		}, fields, h.Start))
	}
	// Batches of a few thousand points, as InfluxDB prefers.
	const batch = 5000
	for i := 0; i < len(points); i += batch {
		end := min(i+batch, len(points))
		if werr := r.opts.Writer.WritePoint(ctx, points[i:end]...); werr != nil {
			r.failures.WithLabelValues("write").Inc()
			return i, errors.Join(err, fmt.Errorf("compliance: write %s: %w", Measurement, werr))
		}
		r.hours.Add(float64(end - i))
	}
	return len(points), err
}

// Compute returns the rollup of every facility for every hour in
// [from, to), which must be whole hours.
func (r *Roller) Compute(ctx context.Context, from, to time.Time) ([]Hour, error) {
	if err := checkRange(from, to); err != nil {
		return nil, err
	}
	facilities, err := r.opts.Facilities(ctx)
	if err != nil {
		r.failures.WithLabelValues("discover").Inc()
		return nil, fmt.Errorf("compliance: list facilities: %w", err)
	}
	var out []Hour
	var firstErr error
	for _, f := range facilities {
		hs, err := r.facility(ctx, f, from, to)
		if err != nil {
			r.failures.WithLabelValues("query").Inc()
			r.log.Error("rollup failed", "facility", f.ID, "err", err)
			if firstErr == nil {
				firstErr = fmt.Errorf("compliance: facility %s: %w", f.ID, err)
			}
			continue
		}
		out = append(out, hs...)
	}
	return out, firstErr
}

// discover lists facilities from the gateway_status series keys
// ("gateway_status,city=...,facility=...,...").
func (r *Roller) discover(ctx context.Context) ([]Facility, error) {
	series, err := r.opts.Query.Query(ctx, `SHOW SERIES FROM "gateway_status"`)
	if err != nil {
		return nil, err
	}
	seen := map[string]Facility{}
	for _, s := range series {
		for _, row := range s.Values {
			key, _ := row[0].(string)
			f := Facility{}
			for _, kv := range strings.Split(key, ",")[1:] {
				k, v, _ := strings.Cut(kv, "=")
				f.SetTag(k, v)
			}
			if f.ID != "" {
				seen[f.ID] = f
			}
		}
	}
	out := make([]Facility, 0, len(seen))
	for _, f := range seen {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
