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
	oldest  time.Time // measurement time of each line, for the lag metric
	times   []time.Time
}

func (w *work) reset() {
	w.buf, w.offs, w.pending, w.times = w.buf[:0], w.offs[:0], w.pending[:0], w.times[:0]
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
	now := in.now()
	for i := range b.Readings {
		r := &b.Readings[i]
		if why := in.check(r, now); why != "" {
			in.m.rejected.WithLabelValues(why).Inc()
			p.ack.Rejected++
			continue
		}
		w.offs = append(w.offs, len(w.buf))
		w.times = append(w.times, r.Time)
		w.buf = appendReadingLine(w.buf, facility, rt, r)
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
		w.times = append(w.times, time.Time{})
		w.buf = appendGapLine(w.buf, facility, gateway, rt, g)
	}
	p.to = w.lines()
	w.pending = append(w.pending, p)
}

// check returns the rejection reason for a reading, "" when it is fine.
func (in *ingester) check(r *model.Reading, now time.Time) string {
	switch {
	case !r.Kind.Valid():
		return reasonBadKind
	case model.ValidateID("device", r.Device) != nil:
		return reasonBadID
	case r.Room != "" && model.ValidateID("room", r.Room) != nil:
		return reasonBadID
	case !finite(r.Value) || !r.Kind.InRange(r.Value):
		return reasonOutOfRange
	case r.Time.Sub(now) > in.cfg.MaxFutureSkew:
		return reasonFuture
	case in.cfg.MaxAge > 0 && now.Sub(r.Time) > in.cfg.MaxAge:
		return reasonTooOld
	}
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
	w.times = append(w.times, time.Time{})
	w.buf = appendStatusLine(w.buf, &st, in.region(region), at)
	p.to = w.lines()
	w.pending = append(w.pending, p)
	in.m.statuses.Inc()
}
