package alerting

import (
	"context"
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
	written prometheus.Counter
	dropped prometheus.Counter
	retries prometheus.Counter
}

func newEvents(sink influxwrite.Sink, log *slog.Logger, reg prometheus.Registerer) *events {
	e := &events{
		sink: sink, log: log, queue: make(chan []byte, eventQueue),
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_alerting_events_written_total", Help: "Alert transitions written to InfluxDB."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_alerting_events_dropped_total", Help: "Alert transitions not written to InfluxDB because the queue was full (they stay in the local state store)."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_alerting_events_write_retries_total", Help: "Failed InfluxDB writes of alert events, retried."}),
	}
	reg.MustRegister(e.written, e.dropped, e.retries)
	return e
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
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-e.queue:
			buf = append(buf[:0], l...)
		}
		n := 1
	drain:
		for n < 1000 {
			select {
			case l := <-e.queue:
				buf = append(buf, l...)
				n++
			default:
				break drain
			}
		}
		backoff := 500 * time.Millisecond
		for {
			err := e.sink.Write(ctx, buf)
			if err == nil {
				e.written.Add(float64(n))
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			e.retries.Inc()
			e.log.Warn("writing alert events failed; retrying", "err", err, "events", n)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}
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
