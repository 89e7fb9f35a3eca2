package collector

import (
	"errors"
	"log/slog"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
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
// from the pipeline goroutine only. Region, room and device attribution come
// from the registry, never from the message: a gateway can only make the
// centre store readings of devices the registry lists for its facility.
type ingester struct {
	cfg     IngestConfig
	m       *metrics
	now     func() time.Time
	log     *slog.Logger
	reg     *registry.Registry
	warn    logLimiter
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
		in.m.batches.WithLabelValues(model.RejectCorrupt).Inc()
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
		in.m.batches.WithLabelValues(model.RejectCorrupt).Inc()
		in.log.Warn("undecodable batch", "facility", facility, "gateway", gateway, "err", err)
		msg.ack()
		return
	}
	p := pending{msg: msg, facility: facility, gateway: gateway, isBatch: true, from: w.lines()}
	p.ack = model.Ack{First: b.First, Count: b.Covers(), Status: model.AckStored}
	// One snapshot for the whole batch: a reload in between cannot split it.
	snap := in.reg.Snapshot()
	f := snap.Facility(facility)
	reason := ""
	switch {
	case b.Covers() == 0 || b.Covers() < b.Count():
		reason = model.RejectCorrupt
	case b.Facility != facility:
		reason = model.RejectFacilityMismatch
	case b.Gateway != gateway:
		reason = model.RejectGatewayMismatch
	case f == nil:
		reason = model.RejectUnknownFacility
	case !f.HasGateway(gateway):
		reason = model.RejectUnregisteredGateway
	}
	if reason != "" {
		// The whole batch is refused: a gateway writing for another
		// facility, or one the registry does not know, gets nothing stored,
		// and is told so.
		n := uint64(len(b.Readings))
		in.m.rejected.WithLabelValues(reason).Add(float64(n))
		in.m.batches.WithLabelValues("rejected").Inc()
		if in.warn.allow(facility+"/"+gateway+"/"+reason, in.now()) {
			in.log.Warn("batch rejected", "reason", reason, "topic_facility", facility, "batch_facility", b.Facility,
				"gateway", gateway, "batch_region", b.Region, "readings", n)
		}
		p.ack.Status, p.ack.Reason = model.AckRejected, reason
		p.ack.Reject(reason, n)
		p.to = p.from
		w.pending = append(w.pending, p)
		return
	}
	if b.Region != f.Region {
		// The region is the registry's, whatever the gateway says: its
		// readings are stored under the registered one (a typo in a
		// facility's file must not lose its data, nor move it to another
		// county), and the ack tells the facility its file is wrong.
		claim := model.RejectRegionMismatch
		if _, err := model.ParseRegion(string(b.Region)); err != nil {
			claim = model.RejectBadRegion
		}
		p.ack.Ignore(claim)
		in.m.claimsIgnored.WithLabelValues(claim).Inc()
		if in.warn.allow(facility+"/"+gateway+"/"+claim, in.now()) {
			in.log.Warn("batch claims another region than the registry's; stored under the registry's", "facility", facility,
				"gateway", gateway, "batch_region", b.Region, "registered_region", f.Region)
		}
	}
	rt := in.region(f.Region)
	lim := in.limits(in.now())
	lim.snap, lim.fac = snap, f
	in.lines.reset(facility, rt)
	for i := range b.Readings {
		r := &b.Readings[i]
		if why := in.check(r, &lim); why != "" {
			in.m.rejected.WithLabelValues(why).Inc()
			p.ack.Reject(why, 1)
			continue
		}
		ms := r.Time.UnixMilli()
		w.offs = append(w.offs, len(w.buf))
		w.addLag(ms)
		w.buf = in.lines.appendLine(w.buf, r, ms)
	}
	if lim.reattributed > 0 {
		in.m.reattributed.Add(float64(lim.reattributed))
	}
	if lim.unlisted > 0 && in.warn.allow(facility+"/"+gateway+"/devices", in.now()) {
		in.log.Warn("readings of devices the registry does not list for the facility rejected", "facility", facility,
			"gateway", gateway, "readings", lim.unlisted, "example", lim.unlistedExample)
	}
	for i := range b.Gaps {
		g := &b.Gaps[i]
		devs := g.Devices[:0]
		for _, d := range g.Devices {
			switch {
			case model.ValidateID("device", d) != nil:
				in.m.rejected.WithLabelValues(model.RejectBadID).Inc()
			case f.Device(d) == nil:
				in.m.rejected.WithLabelValues(model.RejectUnregisteredDevice).Inc()
			default:
				devs = append(devs, d)
			}
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
	snap     *registry.Snapshot
	fac      *registry.Facility
	// The last reading that passed: the next reading of the same device
	// and room (usually the next reading) needs no second ID check or
	// registry lookup.
	device, room string
	dev          *model.Device
	valid        bool
	// Readings of devices the facility does not list, for one log line.
	unlisted        int
	unlistedExample string
	reattributed    int // readings whose room the registry corrected
}

func (in *ingester) limits(now time.Time) batchLimits {
	return batchLimits{future: now.Add(in.cfg.MaxFutureSkew), old: now.Add(-in.cfg.MaxAge), checkOld: in.cfg.MaxAge > 0}
}

// check returns the rejection reason for a reading, "" when it is fine.
// A reading that passes gets its room from the registry. The registry is
// asked first: an ID it lists is valid by construction, so only IDs it does
// not list are checked character by character.
func (in *ingester) check(r *model.Reading, lim *batchLimits) string {
	if !r.Kind.Valid() {
		return model.RejectBadKind
	}
	known := lim.valid && r.Device == lim.device && r.Room == lim.room
	dev := lim.dev
	if !known {
		if dev = lim.fac.Device(r.Device); dev == nil {
			if model.ValidateID("device", r.Device) != nil {
				return model.RejectBadID
			}
			lim.unlisted++
			lim.unlistedExample = r.Device
			if lim.snap.DeviceElsewhere(lim.fac.ID, r.Device) {
				return model.RejectForeignDevice
			}
			return model.RejectUnregisteredDevice
		}
		if r.Room != dev.Room && r.Room != "" && model.ValidateID("room", r.Room) != nil {
			return model.RejectBadID
		}
	}
	switch {
	case !finite(r.Value) || !r.Kind.InRange(r.Value):
		return model.RejectOutOfRange
	case r.Time.After(lim.future):
		return model.RejectFuture
	case lim.checkOld && r.Time.Before(lim.old):
		return model.RejectTooOld
	}
	if !known {
		lim.device, lim.room, lim.dev, lim.valid = r.Device, r.Room, dev, true
	}
	if r.Room != dev.Room {
		lim.reattributed++
		r.Room = dev.Room
	}
	return ""
}

// addStatus writes a gateway's status with what the registry says: the
// facility's registered region and coordinates, whatever the status claims.
func (in *ingester) addStatus(w *work, msg message, facility, gateway string) {
	now := in.now()
	st, err := model.DecodeStatus(msg.payload)
	reason := ""
	switch {
	case err != nil:
		reason = model.RejectCorrupt
	case st.Facility != facility:
		reason, err = model.RejectFacilityMismatch, errors.New("status names another facility than its topic")
	case st.Gateway != gateway:
		reason, err = model.RejectGatewayMismatch, errors.New("status names another gateway than its topic")
	}
	f := in.reg.Snapshot().Facility(facility)
	at := now
	if st.TimeMs > 0 {
		at = time.UnixMilli(st.TimeMs)
	}
	if reason == "" {
		switch {
		case f == nil:
			reason = model.RejectUnknownFacility
		case !f.HasGateway(gateway):
			reason = model.RejectUnregisteredGateway
		case at.After(now.Add(in.cfg.MaxFutureSkew)):
			reason = model.RejectFuture
		case in.cfg.MaxAge > 0 && at.Before(now.Add(-in.cfg.MaxAge)):
			reason = model.RejectTooOld // a retained status of a gateway gone long ago
		}
	}
	if reason != "" {
		in.m.statusRejected.WithLabelValues(reason).Inc()
		if in.warn.allow(facility+"/"+gateway+"/status/"+reason, now) {
			in.log.Warn("gateway status rejected", "topic", msg.topic, "reason", reason, "err", err)
		}
		msg.ack()
		return
	}
	st.Lat, st.Lon = f.Coordinates.Lat, f.Coordinates.Lon
	p := pending{msg: msg, facility: facility, gateway: gateway, from: w.lines()}
	w.offs = append(w.offs, len(w.buf))
	w.buf = appendStatusLine(w.buf, &st, in.region(f.Region), at)
	p.to = w.lines()
	w.pending = append(w.pending, p)
	in.m.statuses.Inc()
}

// logLimiter lets one warning per key through per logEvery, so a hostile
// or broken gateway is logged, not allowed to flood the log; the counters
// keep the full count.
type logLimiter map[string]time.Time

const logEvery = time.Minute

func (l *logLimiter) allow(key string, now time.Time) bool {
	if *l == nil || len(*l) > 10000 {
		*l = logLimiter{}
	}
	if last, ok := (*l)[key]; ok && now.Sub(last) < logEvery {
		return false
	}
	(*l)[key] = now
	return true
}
