package gateway

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

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

// spoolBufferedReader is the spool's Read into reused memory; test fakes
// need not have it.
type spoolBufferedReader interface {
	ReadInto(b *spool.ReadBuffer, from uint64, maxRecords, maxBytes int) error
}

// publisher is what the uplink needs of the MQTT client.
type publisher interface {
	Publish(topic string, qos byte, retained bool, payload any) mqtt.Token
	IsConnectionOpen() bool
}

// Reasons of a resend (the reason label of cw_gateway_uplink_resends_total).
const (
	resendTimeout   = "timeout"
	resendReconnect = "reconnect"
)

// inflight is a batch sent and not yet acknowledged.
type inflight struct {
	lane        model.Lane
	first, span uint64
	readings    int
	payload     []byte
	sentAt      time.Time     // last send
	backoff     time.Duration // AckTimeout, doubled at each timeout up to MaxAckTimeout
	timeout     time.Duration // backoff plus jitter: resend when no ack came this long after sentAt
}

// uplink sends spooled entries to the centre and releases them from the
// spool when the collector acknowledges them.
//
// It runs two lanes over one window of at most Window unacknowledged
// batches (LaneConfig says when they split and how they share): the live
// lane follows the spool head, the backlog lane drains what an outage left
// behind, from the release point in index order. Each lane sends in index
// order, so within a lane a device's readings arrive in order; after an
// outage a device's live readings arrive before its older backlog, which the
// centre's alerting recognises as replay (it judges lateness against each
// facility's event-time watermark) and uses without alarming on stale data.
//
// Acknowledgements then arrive out of order. They are kept in an ackSet and
// the spool is released up to the first index not yet acknowledged, so
// nothing is freed before InfluxDB stored it. That set is in memory: after a
// restart, ranges acknowledged above the persisted release point are sent
// again, which is harmless because a reading's identity in InfluxDB is its
// series and measurement time.
//
// A batch not acknowledged within its ack timeout is sent again and its
// timeout doubles, with up to 10 % jitter so that gateways do not resend in
// step, up to MaxAckTimeout: an outage of the centre costs a few resends per
// batch, not a flood. Every unacknowledged batch of both lanes is also sent
// again on each reconnect, live lane first.
type uplink struct {
	cfg      UplinkConfig
	lanes    LaneConfig // zero fields take defaults in start
	gateway  string
	facility string
	region   model.Region
	sp       spoolReader
	rbuf     spool.ReadBuffer // what read last returned, see read
	pub      publisher
	log      *slog.Logger
	now      func() time.Time
	jitter   func(n int64) int64 // random in [0, n); nil: math/rand/v2
	m        *uplinkMetrics
	report   *centreReport // what the centre's acks refused or did not believe

	acks       chan model.Ack
	reconnect  chan struct{}
	urgentWake chan struct{} // capacity 1: urgentAt added a hint

	hintMu sync.Mutex
	hints  []uint64 // marks of durable urgent runs to send ahead (urgentAt)

	live, backlog, urgent lane
	next                  uint64       // live lane's cursor: next spool index to read
	skip                  []indexRange // urgent runs at or beyond next, sent ahead by the urgent lane
	backlogRanges         []indexRange // what the backlog lane has still to send, in index order
	acked                 ackSet       // acknowledged ranges above released
	released              uint64       // spool release point as last set by this uplink
	batch                 model.Batch  // reused while encoding
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
		u.m.ignored.WithLabelValues("queue_full").Inc()
	}
}

// onConnect is called on every connection to the centre: resend all.
func (u *uplink) onConnect() {
	select {
	case u.reconnect <- struct{}{}:
	default:
	}
}

// start sets the cursors from the spool and fills defaults; run calls it.
func (u *uplink) start() {
	u.lanes = u.lanes.withDefaults(u.cfg.Window)
	if u.jitter == nil {
		u.jitter = rand.Int64N
	}
	u.live.id, u.backlog.id, u.urgent.id = model.LaneLive, model.LaneBacklog, model.LaneUrgent
	// Index 0 is never used (a new spool starts at 1 with release point 0):
	// starting at 1 makes the first batch name its first real index.
	u.released = max(1, u.sp.Stats().Released)
	u.next = u.released
}

// run is the uplink goroutine.
func (u *uplink) run(ctx context.Context) error {
	u.start()
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
			u.resendAll(resendReconnect)
		case <-u.urgentWake:
		case <-tick.C:
			u.checkTimeout()
		}
	}
}

// fill sends new batches: urgent runs first, which do not wait for a slot
// of the window; then, while the window has room, live batches up to their
// share and backlog batches with the rest but one slot, which stays free for
// the next live batch so that it never waits for a backlog acknowledgement.
func (u *uplink) fill() {
	u.sendUrgentAhead()
	for u.pub.IsConnectionOpen() {
		if len(u.live.inflight)+len(u.backlog.inflight) >= u.cfg.Window {
			if u.urgentAtCursor() {
				continue
			}
			return
		}
		if len(u.live.inflight) < u.liveCap() && u.fillLive() {
			continue
		}
		if u.urgentAtCursor() {
			continue
		}
		if len(u.backlog.inflight) >= u.cfg.Window-1 || !u.fillBacklog() {
			return
		}
	}
}

// launch sends a new batch and counts it.
func (u *uplink) launch(f *inflight) {
	l := u.lane(f.lane)
	l.inflight = append(l.inflight, f)
	u.send(f)
	u.m.batches.WithLabelValues(f.lane.String()).Inc()
	u.m.readings.WithLabelValues(f.lane.String()).Add(float64(f.readings))
	u.m.inflight.WithLabelValues(f.lane.String()).Set(float64(len(l.inflight)))
}

func (u *uplink) lane(id model.Lane) *lane {
	switch id {
	case model.LaneLive:
		return &u.live
	case model.LaneUrgent:
		return &u.urgent
	}
	return &u.backlog
}

func (u *uplink) send(f *inflight) {
	f.sentAt = u.now()
	u.m.bytes.Add(float64(len(f.payload)))
	// The token is not awaited: paho can report success for a message lost
	// in a reconnect (PITFALLS.md). The collector's ack is the only proof.
	u.pub.Publish(model.Topic(u.facility, u.gateway, model.SuffixBatch), 1, false, f.payload)
}

// handleAck takes an acknowledgement (stored or rejected: either way the
// range leaves the spool, see docs/wire.md) and releases what it can.
func (u *uplink) handleAck(a model.Ack) {
	u.m.acks.WithLabelValues(string(a.Status)).Inc()
	end := a.First + a.Count
	var f *inflight
	for _, id := range lanes {
		l := u.lane(id)
		for _, g := range l.inflight {
			if g.first == a.First && g.span == a.Count {
				f = g
				break
			}
		}
		if f != nil {
			l.remove(f)
			u.m.inflight.WithLabelValues(l.id.String()).Set(float64(len(l.inflight)))
			break
		}
	}
	if f == nil {
		reason := "unknown"
		if end <= u.released || u.acked.contains(a.First, end) {
			reason = "duplicate" // an ack of a batch sent twice
		}
		u.m.ignored.WithLabelValues(reason).Inc()
		return
	}
	u.m.ackSeconds.Observe(u.now().Sub(f.sentAt).Seconds())
	u.m.rejected.Add(float64(a.Rejected))
	u.report.record(a, u.now())
	if a.Status == model.AckRejected {
		u.log.Error("centre rejected a batch", "first", a.First, "count", a.Count, "reason", a.Reason)
	}
	u.acked.add(a.First, end)
	u.advanceRelease()
}

// advanceRelease releases the spool up to the first index not yet
// acknowledged.
func (u *uplink) advanceRelease() {
	upTo := u.acked.advance(u.released)
	if upTo == u.released {
		return
	}
	u.released = upTo
	if err := u.sp.Release(upTo); err != nil {
		// The next release covers this one: the spool's point only moves
		// forward, and a record left unreleased is at worst sent again.
		u.m.spoolErrors.WithLabelValues("release").Inc()
		u.log.Error("spool release failed", "up_to", upTo, "err", err)
	}
}

// checkTimeout resends each batch whose ack is overdue, urgent lane first,
// and doubles its timeout with jitter.
func (u *uplink) checkTimeout() {
	if !u.pub.IsConnectionOpen() {
		return // onConnect resends everything anyway
	}
	now := u.now()
	n := 0
	for _, id := range lanes {
		l := u.lane(id)
		for _, f := range l.inflight {
			if now.Sub(f.sentAt) < f.timeout {
				continue
			}
			u.send(f)
			u.m.resends.WithLabelValues(l.id.String(), resendTimeout).Inc()
			f.backoff = min(f.backoff*2, u.cfg.MaxAckTimeout)
			f.timeout = f.backoff + time.Duration(u.jitter(int64(f.backoff/10)+1))
			n++
		}
	}
	if n > 0 {
		u.log.Info("resending unacknowledged batches", "why", resendTimeout, "batches", n)
	}
}

// resendAll sends every unacknowledged batch again, urgent lane first,
// then live.
func (u *uplink) resendAll(why string) {
	n := len(u.live.inflight) + len(u.backlog.inflight) + len(u.urgent.inflight)
	if n == 0 || !u.pub.IsConnectionOpen() {
		return
	}
	u.log.Info("resending unacknowledged batches", "why", why, "batches", n)
	for _, id := range lanes {
		l := u.lane(id)
		for _, f := range l.inflight {
			u.send(f)
			u.m.resends.WithLabelValues(l.id.String(), why).Inc()
		}
	}
}
