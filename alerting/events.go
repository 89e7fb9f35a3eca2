package alerting

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"github.com/cradlewatch/cradlewatch/model"
)

// eventQueue bounds the transitions waiting for InfluxDB. Transitions are
// rare (a few per alert); when InfluxDB is away for long and the queue is
// full, the oldest events wait in the durable state store anyway, and the
// drop is counted.
const eventQueue = 10000

// events writes every alert transition to InfluxDB as measurement
// alert_event, for Grafana's annotations and the compliance rollups.
type events struct {
	sink    influxwrite.Sink
	log     *slog.Logger
	queue   chan []byte
	after   func(time.Duration) <-chan time.Time // time.After; tests wait for nothing
	create  func(ctx context.Context) error      // nil: the database is not ours to create
	closer  func()                               // releases a sink built here
	written prometheus.Counter
	dropped prometheus.Counter
	retries prometheus.Counter
	refused prometheus.Counter
}

// Backoff of the event writer's retries.
const (
	eventRetryInitial = 500 * time.Millisecond
	eventRetryMax     = 30 * time.Second
)

// newEvents builds the writer: on sink, or, when sink is nil, on InfluxDB
// as cfg says, creating the database first when cfg.CreateDatabase asks
// (InfluxDB 1.x), as the collector does.
func newEvents(cfg influxwrite.Config, sink influxwrite.Sink, log *slog.Logger, reg prometheus.Registerer) *events {
	e := &events{
		sink: sink, log: log, queue: make(chan []byte, eventQueue), after: time.After,
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_alerting_events_written_total", Help: "Alert transitions written to InfluxDB."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_alerting_events_dropped_total", Help: "Alert transitions not written to InfluxDB because the queue was full (they stay in the local state store)."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_alerting_events_write_retries_total", Help: "Failed InfluxDB writes of alert events (and attempts to create its database), retried."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_alerting_events_refused_total", Help: "Alert transitions InfluxDB refused as bad data (a field type conflict, a point beyond the retention policy): dropped and logged, the others written (they stay in the local state store)."}),
	}
	reg.MustRegister(e.written, e.dropped, e.retries, e.refused)
	if e.sink == nil {
		is := influxwrite.NewInfluxSink(cfg)
		e.sink, e.closer = is, is.Close
		if cfg.Version == 1 && cfg.CreateDatabase {
			e.create = func(ctx context.Context) error { return influxwrite.CreateDatabase(ctx, cfg) }
		}
	}
	return e
}

// close releases the sink newEvents built. Idempotent.
func (e *events) close() error {
	if e.closer != nil {
		e.closer()
		e.closer = nil
	}
	return nil
}

// add queues one transition; it never blocks the rule engine.
func (e *events) add(tr rules.Transition, region model.Region) {
	line := eventLine(nil, tr, region)
	select {
	case e.queue <- line:
	default:
		e.dropped.Inc()
	}
}

func (e *events) run(ctx context.Context) error {
	if e.create != nil && !e.retry(ctx, "creating the events database", e.create) {
		return nil
	}
	var buf []byte
	var offs []int // start of each line in buf
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-e.queue:
			buf, offs = append(buf[:0], l...), append(offs[:0], 0)
		}
	drain:
		for len(offs) < 1000 {
			select {
			case l := <-e.queue:
				offs = append(offs, len(buf))
				buf = append(buf, l...)
			default:
				break drain
			}
		}
		if !e.write(ctx, buf, offs, 0, len(offs)) {
			return nil
		}
	}
}

// write stores lines [from, to) of buf, retrying what can succeed later
// and bisecting a write InfluxDB refuses (ErrBadData, ErrTooLarge) until
// the refused lines stand alone: those are counted, logged and dropped,
// the others written. A bad line must not block every alert event after
// it. It reports false when ctx ended.
func (e *events) write(ctx context.Context, buf []byte, offs []int, from, to int) bool {
	end := len(buf)
	if to < len(offs) {
		end = offs[to]
	}
	body := buf[offs[from]:end]
	var refusedErr error
	ok := e.retry(ctx, "writing alert events", func(ctx context.Context) error {
		err := e.sink.Write(ctx, body)
		if errors.Is(err, influxwrite.ErrBadData) || errors.Is(err, influxwrite.ErrTooLarge) {
			refusedErr = err
			return nil
		}
		return err
	})
	switch {
	case !ok:
		return false
	case refusedErr == nil:
		e.written.Add(float64(to - from))
		return true
	case to-from == 1:
		e.refused.Inc()
		e.log.Error("InfluxDB refused an alert event; dropped (the state store keeps it)", "line", clipLine(body), "err", refusedErr)
		return true
	}
	mid := from + (to-from)/2
	return e.write(ctx, buf, offs, from, mid) && e.write(ctx, buf, offs, mid, to)
}

// retry calls f until it succeeds, with backoff, counting and logging each
// failure; it reports false when ctx ended first.
func (e *events) retry(ctx context.Context, what string, f func(context.Context) error) bool {
	backoff := eventRetryInitial
	for {
		err := f(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		e.retries.Inc()
		e.log.Warn(what+" failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return false
		case <-e.after(backoff):
		}
		backoff = min(2*backoff, eventRetryMax)
	}
}

// clipLine is a line for a log, without its newline, at most 300 bytes.
func clipLine(b []byte) string {
	b = bytes.TrimSuffix(b, []byte("\n"))
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// eventLine renders one transition:
// alert_event,city=..,county=..,facility=..,province=..,room=..,rule=..,severity=..,state=..,street=..
//
//	fingerprint="..",value=..,limit=..,actor="..",message="..",ack_seconds=..,resolve_seconds=.. <ms>
//
// Identifiers are model.ValidateID-checked names or rule names from our own
// configuration, so tag values need no escaping beyond what is done here.
func eventLine(dst []byte, tr rules.Transition, region model.Region) []byte {
	a := tr.Alert
	dst = append(dst, model.MeasurementAlertEvent...)
	tag := func(k, v string) { dst = influxwrite.AppendTag(dst, k, v) }
	tag(model.TagCity, region.City())
	tag(model.TagCounty, region.County())
	tag(model.TagDevice, a.Device)
	tag(model.TagFacility, a.Facility)
	tag(model.TagProvince, region.Province())
	tag(model.TagRoom, a.Room)
	tag(model.TagRule, a.Rule)
	tag(model.TagSeverity, a.Severity.String())
	tag(model.TagState, tr.To.String())
	tag(model.TagStreet, region.Street())
	dst = append(dst, " "+model.FieldFingerprint+"="...)
	dst = influxwrite.AppendStringField(dst, a.Fingerprint)
	dst = append(dst, ","+model.FieldValue+"="...)
	dst = influxwrite.AppendFloat(dst, finiteOr0(a.Value))
	dst = append(dst, ","+model.FieldLimit+"="...)
	dst = influxwrite.AppendFloat(dst, finiteOr0(a.Limit))
	dst = append(dst, ","+model.FieldActor+"="...)
	dst = influxwrite.AppendStringField(dst, tr.Actor)
	dst = append(dst, ","+model.FieldMessage+"="...)
	dst = influxwrite.AppendStringField(dst, a.Description)
	since := a.FiredAt
	if since.IsZero() {
		since = a.Since
	}
	if !since.IsZero() {
		switch tr.To {
		case rules.Acknowledged:
			dst = append(dst, ","+model.FieldAckSeconds+"="...)
			dst = strconv.AppendFloat(dst, tr.At.Sub(since).Seconds(), 'f', 3, 64)
		case rules.Resolved:
			dst = append(dst, ","+model.FieldResolveSeconds+"="...)
			dst = strconv.AppendFloat(dst, tr.At.Sub(since).Seconds(), 'f', 3, 64)
		}
	}
	return influxwrite.AppendTimestamp(dst, tr.At)
}

func finiteOr0(v float64) float64 {
	if v != v || v > 1e300 || v < -1e300 {
		return 0
	}
	return v
}
