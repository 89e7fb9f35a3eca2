package gateway

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/model"
)

// spoolReader is what the uplink needs of the spool.
type spoolReader interface {
	Read(from uint64, maxRecords, maxBytes int) ([]spool.Record, error)
	Release(upTo uint64) error
	Committed() <-chan struct{}
	Stats() spool.Stats
}

// publisher is what the uplink needs of the MQTT client.
type publisher interface {
	Publish(topic string, qos byte, retained bool, payload any) mqtt.Token
	IsConnectionOpen() bool
}

// inflight is a batch sent and not yet acknowledged.
type inflight struct {
	first, span uint64
	payload     []byte
	sentAt      time.Time
	acked       bool
}

// uplink sends spooled entries to the centre in order and releases them
// from the spool when the collector acknowledges them. It keeps at most
// Window batches unacknowledged; when the oldest is not acknowledged within
// the ack timeout, everything unacknowledged is sent again and the timeout
// doubles (with jitter) up to MaxAckTimeout, so an outage of the centre costs
// a few resends, not a flood.
type uplink struct {
	cfg      UplinkConfig
	gateway  string
	facility string
	region   model.Region
	sp       spoolReader
	pub      publisher
	log      *slog.Logger
	now      func() time.Time
	m        *uplinkMetrics

	acks      chan model.Ack
	reconnect chan struct{}

	inflight []*inflight
	next     uint64 // next spool index to read
	timeout  time.Duration
	buf      []byte
	batch    model.Batch
}

type uplinkMetrics struct {
	batches    prometheus.Counter
	readings   prometheus.Counter
	bytes      prometheus.Counter
	resends    prometheus.Counter
	acks       *prometheus.CounterVec
	rejected   prometheus.Counter
	unreadable prometheus.Counter
	inflight   prometheus.Gauge
	ackSeconds prometheus.Histogram
}

func newUplinkMetrics(reg prometheus.Registerer) *uplinkMetrics {
	m := &uplinkMetrics{
		batches:    prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_gateway_uplink_batches_total", Help: "Batches sent to the centre, first sends only."}),
		readings:   prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_gateway_uplink_readings_total", Help: "Readings sent to the centre, first sends only."}),
		bytes:      prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_gateway_uplink_bytes_total", Help: "Batch payload bytes sent, resends included."}),
		resends:    prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_gateway_uplink_resends_total", Help: "Batches sent again because no acknowledgement came in time or the link came back."}),
		acks:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_gateway_uplink_acks_total", Help: "Acknowledgements from the centre, by status (stored, rejected, unknown)."}, []string{"status"}),
		rejected:   prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_gateway_uplink_readings_rejected_total", Help: "Readings the centre refused (counted there by reason)."}),
		unreadable: prometheus.NewCounter(prometheus.CounterOpts{Name: "cw_gateway_uplink_unreadable_entries_total", Help: "Spool entries that could not be decoded and were skipped."}),
		inflight:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "cw_gateway_uplink_inflight_batches", Help: "Batches sent and not yet acknowledged."}),
		ackSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cw_gateway_uplink_ack_seconds", Help: "Time from sending a batch to its acknowledgement.", Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12)}),
	}
	reg.MustRegister(m.batches, m.readings, m.bytes, m.resends, m.acks, m.rejected, m.unreadable, m.inflight, m.ackSeconds)
	return m
}

// onAck is the MQTT handler of the ack topic; it only queues.
func (u *uplink) onAck(_ mqtt.Client, msg mqtt.Message) {
	a, err := model.DecodeAck(msg.Payload())
	if err != nil {
		u.m.acks.WithLabelValues("unknown").Inc()
		u.log.Warn("bad acknowledgement", "err", err)
		return
	}
	select {
	case u.acks <- a:
	default:
		// The queue holds far more than Window acks; a full one means a
		// flood of duplicates. Dropping one is safe: the batch is resent.
		u.m.acks.WithLabelValues("unknown").Inc()
	}
}

// onConnect is called on every connection to the centre: resend all.
func (u *uplink) onConnect() {
	select {
	case u.reconnect <- struct{}{}:
	default:
	}
}

// run is the uplink goroutine.
func (u *uplink) run(ctx context.Context) error {
	u.next = u.sp.Stats().Released
	u.timeout = u.cfg.AckTimeout
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		u.fill()
		select {
		case <-ctx.Done():
			return nil
		case <-u.sp.Committed():
		case a := <-u.acks:
			u.handleAck(a)
		case <-u.reconnect:
			u.resendAll("reconnected")
		case <-tick.C:
			u.checkTimeout()
		}
	}
}

// fill sends new batches while the window has room.
func (u *uplink) fill() {
	for len(u.inflight) < u.cfg.Window && u.pub.IsConnectionOpen() {
		recs, err := u.sp.Read(u.next, u.cfg.MaxBatch, u.cfg.MaxBatchBytes)
		if err != nil {
			u.log.Error("spool read failed", "from", u.next, "err", err)
			return
		}
		if len(recs) == 0 {
			return
		}
		b := &u.batch
		*b = model.Batch{Gateway: u.gateway, Facility: u.facility, Region: u.region, First: u.next,
			Sent: u.now(), Readings: b.Readings[:0], Gaps: b.Gaps[:0]}
		for _, r := range recs {
			switch model.EntryType(r.Data) {
			case model.EntryReading:
				b.Readings = append(b.Readings, model.Reading{})
				if err := model.DecodeReadingEntry(r.Data, &b.Readings[len(b.Readings)-1]); err != nil {
					b.Readings = b.Readings[:len(b.Readings)-1]
					u.m.unreadable.Inc()
				}
			case model.EntryGap:
				var g model.Gap
				if err := model.DecodeGapEntry(r.Data, &g); err != nil {
					u.m.unreadable.Inc()
					continue
				}
				b.Gaps = append(b.Gaps, g)
			default:
				u.m.unreadable.Inc()
			}
		}
		end := recs[len(recs)-1].Index + 1
		b.Span = end - u.next
		payload := model.EncodeBatch(nil, b)
		f := &inflight{first: u.next, span: b.Span, payload: payload, sentAt: u.now()}
		u.inflight = append(u.inflight, f)
		u.next = end
		u.send(f)
		u.m.batches.Inc()
		u.m.readings.Add(float64(len(b.Readings)))
		u.m.inflight.Set(float64(len(u.inflight)))
	}
}

func (u *uplink) send(f *inflight) {
	f.sentAt = u.now()
	u.m.bytes.Add(float64(len(f.payload)))
	// The token is not awaited: paho can report success for a message lost
	// in a reconnect (PITFALLS.md). The collector's ack is the only proof.
	u.pub.Publish(model.Topic(u.facility, u.gateway, model.SuffixBatch), 1, false, f.payload)
}

func (u *uplink) handleAck(a model.Ack) {
	u.m.acks.WithLabelValues(string(a.Status)).Inc()
	u.m.rejected.Add(float64(a.Rejected))
	if a.Status == model.AckRejected {
		u.log.Error("centre rejected a batch", "first", a.First, "count", a.Count, "reason", a.Reason)
	}
	found := false
	for _, f := range u.inflight {
		if f.first == a.First && f.span == a.Count && !f.acked {
			f.acked = true
			found = true
			u.m.ackSeconds.Observe(u.now().Sub(f.sentAt).Seconds())
		}
	}
	if !found {
		return // a duplicate ack of a resent batch
	}
	// Release the acknowledged prefix; later acks wait for earlier ones, so
	// the spool's release point only moves forward over stored data.
	n := 0
	var upTo uint64
	for n < len(u.inflight) && u.inflight[n].acked {
		upTo = u.inflight[n].first + u.inflight[n].span
		n++
	}
	if n == 0 {
		return
	}
	u.inflight = append(u.inflight[:0], u.inflight[n:]...)
	u.m.inflight.Set(float64(len(u.inflight)))
	u.timeout = u.cfg.AckTimeout
	if err := u.sp.Release(upTo); err != nil {
		u.log.Error("spool release failed", "up_to", upTo, "err", err)
	}
}

func (u *uplink) checkTimeout() {
	if len(u.inflight) == 0 {
		return
	}
	oldest := u.inflight[0]
	for _, f := range u.inflight {
		if !f.acked {
			oldest = f
			break
		}
	}
	if u.now().Sub(oldest.sentAt) < u.timeout {
		return
	}
	u.resendAll("no acknowledgement")
	u.timeout = min(u.timeout*2, u.cfg.MaxAckTimeout)
	u.timeout += time.Duration(rand.Int64N(int64(u.timeout/10) + 1))
}

func (u *uplink) resendAll(why string) {
	if len(u.inflight) == 0 || !u.pub.IsConnectionOpen() {
		return
	}
	u.log.Info("resending unacknowledged batches", "why", why, "batches", len(u.inflight), "first", u.inflight[0].first)
	for _, f := range u.inflight {
		if !f.acked {
			u.send(f)
			u.m.resends.Inc()
		}
	}
}
