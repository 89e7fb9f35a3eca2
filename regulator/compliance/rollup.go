package compliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
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
	// Rules is the alerting rule set: the limits, seasons and opening
	// hours the rollup judges by (required).
	Rules *rules.RuleSet
	// Registry lists the facilities to roll up, with their registered
	// region, time zone, hours and room types (required).
	Registry *registry.Registry
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
	if opts.Rules == nil || opts.Registry == nil {
		return nil, errors.New("compliance: Options.Rules and Options.Registry are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
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
			Help: "Facility rollups that failed, by stage (calendar, query, write).",
		}, []string{"stage"}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{r.hours, r.failures} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("compliance: register metrics: %w", err)
			}
		}
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
		points = append(points, write.NewPoint(model.MeasurementComplianceHourly, h.Facility.Tags(), fields, h.Start))
	}
	// Batches of a few thousand points, as InfluxDB prefers.
	const batch = 5000
	for i := 0; i < len(points); i += batch {
		end := min(i+batch, len(points))
		if werr := r.opts.Writer.WritePoint(ctx, points[i:end]...); werr != nil {
			r.failures.WithLabelValues("write").Inc()
			return i, errors.Join(err, fmt.Errorf("compliance: write %s: %w", model.MeasurementComplianceHourly, werr))
		}
		r.hours.Add(float64(end - i))
	}
	return len(points), err
}

// Compute returns the rollup of every registered facility for every hour
// in [from, to), which must be whole hours. One registry snapshot serves
// the whole computation.
func (r *Roller) Compute(ctx context.Context, from, to time.Time) ([]Hour, error) {
	if err := checkRange(from, to); err != nil {
		return nil, err
	}
	var out []Hour
	var firstErr error
	for _, f := range r.opts.Registry.Snapshot().Facilities() {
		hs, stage, err := r.facility(ctx, f, from, to)
		if err != nil {
			r.failures.WithLabelValues(stage).Inc()
			r.log.Error("rollup failed", "facility", f.ID, "stage", stage, "err", err)
			if firstErr == nil {
				firstErr = fmt.Errorf("compliance: facility %s: %w", f.ID, err)
			}
			continue
		}
		out = append(out, hs...)
	}
	return out, firstErr
}
