package collector

import (
	"errors"
	"log/slog"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// message is one MQTT message as the pipeline sees it; ack releases it at
// the broker (PUBACK) and is called only after its data is stored.
type message struct {
	topic   string
	payload []byte
	ack     func()
}

// pending is a received message waiting for its write: what to tell the
// gateway and which lines of the write belong to it.
type pending struct {
	msg      message
	facility string
	gateway  string
	isBatch  bool
	ack      model.Ack
	from, to int // line indexes [from, to) in the write
}

// work is one InfluxDB write: the lines, where each line starts, and the
// messages it settles.
type work struct {
	buf     []byte
	offs    []int // start offset of each line in buf
	pending []pending
	lag     []lagGroup // measurement times of the reading lines, for the lag metric
}

func (w *work) reset() {
	w.buf, w.offs, w.pending, w.lag = w.buf[:0], w.offs[:0], w.pending[:0], w.lag[:0]
}

func (w *work) lines() int { return len(w.offs) }

// ingester validates messages and renders them as line protocol. It is used
// from the pipeline goroutine only.
type ingester struct {
	cfg     IngestConfig
	m       *metrics
	now     func() time.Time
	log     *slog.Logger
	batch   model.Batch
	regions map[model.Region]*regionTags
	lines   readingLines // reused from batch to batch
}

func (in *ingester) region(r model.Region) *regionTags {
	if rt, ok := in.regions[r]; ok {
		return rt
	}
	rt := newRegionTags(r)
	if len(in.regions) > 100000 { // bound the cache; regions are few in practice
		clear(in.regions)
	}
	in.regions[r] = &rt
	return &rt
}

// add appends msg's lines to w and records what to acknowledge.
func (in *ingester) add(w *work, msg message) {
	facility, gateway, suffix, err := model.ParseTopic(msg.topic)
	if err != nil {
		in.log.Warn("message on an unexpected topic", "topic", msg.topic, "err", err)
		in.m.batches.WithLabelValues(reasonCorrupt).Inc()
		msg.ack()
		return
	}
	switch suffix {
	case model.SuffixBatch:
		in.addBatch(w, msg, facility, gateway)
	case model.SuffixStatus:
		in.addStatus(w, msg, facility, gateway)
	default:
		msg.ack()
	}
}

func (in *ingester) addBatch(w *work, msg message, facility, gateway string) {
	b := &in.batch
	if err := model.DecodeBatch(msg.payload, b); err != nil {
		// Nothing to acknowledge: the range is unknown. The gateway resends
		// after its timeout, which also heals corruption in transit.
		in.m.batches.WithLabelValues(reasonCorrupt).Inc()
		in.log.Warn("undecodable batch", "facility", facility, "gateway", gateway, "err", err)
		msg.ack()
		return
	}
	p := pending{msg: msg, facility: facility, gateway: gateway, isBatch: true, from: w.lines()}
	p.ack = model.Ack{First: b.First, Count: b.Covers(), Status: model.AckStored}
	reason := ""
	switch {
	case b.Covers() == 0 || b.Covers() < b.Count():
		reason = reasonCorrupt
	case b.Facility != facility:
		reason = reasonFacilityMismatch
	case b.Gateway != gateway:
		reason = reasonGatewayMismatch
	default:
		if _, err := model.ParseRegion(string(b.Region)); err != nil {
			reason = reasonBadRegion
		}
	}
	if reason != "" {
		// The whole batch is refused: a gateway writing for another
		// facility gets nothing stored, and is told so.
		in.m.rejected.WithLabelValues(reason).Add(float64(len(b.Readings)))
		in.m.batches.WithLabelValues("rejected").Inc()
		in.log.Warn("batch rejected", "reason", reason, "topic_facility", facility, "batch_facility", b.Facility,
			"gateway", gateway, "readings", len(b.Readings))
		p.ack.Status, p.ack.Reason, p.ack.Rejected = model.AckRejected, reason, uint64(len(b.Readings))
		p.to = p.from
		w.pending = append(w.pending, p)
		return
	}
	rt := in.region(b.Region)
	lim := in.limits(in.now())
	in.lines.reset(facility, rt)
	for i := range b.Readings {
		r := &b.Readings[i]
		if why := in.check(r, &lim); why != "" {
			in.m.rejected.WithLabelValues(why).Inc()
			p.ack.Rejected++
			continue
		}
		ms := r.Time.UnixMilli()
		w.offs = append(w.offs, len(w.buf))
		w.addLag(ms)
		w.buf = in.lines.appendLine(w.buf, r, ms)
	}
	for i := range b.Gaps {
		g := &b.Gaps[i]
		devs := g.Devices[:0]
		for _, d := range g.Devices {
			if model.ValidateID("device", d) != nil {
				in.m.rejected.WithLabelValues(reasonBadID).Inc()
				continue
			}
			devs = append(devs, d)
		}
		g.Devices = devs
		in.m.gaps.Inc()
		in.m.gapReadings.Add(float64(g.Count))
		w.offs = append(w.offs, len(w.buf))
		w.buf = appendGapLine(w.buf, facility, gateway, rt, g)
	}
	p.to = w.lines()
	w.pending = append(w.pending, p)
}

// batchLimits is what a batch's readings are checked against, worked out
// once per batch.
type batchLimits struct {
	future   time.Time // readings measured after it are rejected (max_future_skew)
	old      time.Time // readings measured before it are rejected (max_age)
	checkOld bool      // max_age is set
	// The IDs of the last reading that passed: the next reading of the same
	// device (usually the next reading) needs no second ID check.
	device, room string
	valid        bool
}

func (in *ingester) limits(now time.Time) batchLimits {
	return batchLimits{future: now.Add(in.cfg.MaxFutureSkew), old: now.Add(-in.cfg.MaxAge), checkOld: in.cfg.MaxAge > 0}
}

// check returns the rejection reason for a reading, "" when it is fine.
func (in *ingester) check(r *model.Reading, lim *batchLimits) string {
	knownIDs := lim.valid && r.Device == lim.device && r.Room == lim.room
	switch {
	case !r.Kind.Valid():
		return reasonBadKind
	case !knownIDs && model.ValidateID("device", r.Device) != nil:
		return reasonBadID
	case !knownIDs && r.Room != "" && model.ValidateID("room", r.Room) != nil:
		return reasonBadID
	case !finite(r.Value) || !r.Kind.InRange(r.Value):
		return reasonOutOfRange
	case r.Time.After(lim.future):
		return reasonFuture
	case lim.checkOld && r.Time.Before(lim.old):
		return reasonTooOld
	}
	lim.device, lim.room, lim.valid = r.Device, r.Room, true
	return ""
}

func (in *ingester) addStatus(w *work, msg message, facility, gateway string) {
	st, err := model.DecodeStatus(msg.payload)
	if err == nil && (st.Facility != facility || st.Gateway != gateway) {
		err = errors.New("status names another facility or gateway than its topic")
	}
	if err != nil {
		in.log.Warn("bad gateway status", "topic", msg.topic, "err", err)
		msg.ack()
		return
	}
	at := in.now()
	if st.TimeMs > 0 {
		at = time.UnixMilli(st.TimeMs)
	}
	region := st.Region
	if _, err := model.ParseRegion(string(region)); err != nil {
		region = "" // a last will may carry no region: tags are left out
	}
	p := pending{msg: msg, facility: facility, gateway: gateway, from: w.lines()}
	w.offs = append(w.offs, len(w.buf))
	w.buf = appendStatusLine(w.buf, &st, in.region(region), at)
	p.to = w.lines()
	w.pending = append(w.pending, p)
	in.m.statuses.Inc()
}
