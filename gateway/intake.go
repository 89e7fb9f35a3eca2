package gateway

import (
	"slices"
	"sync"
	"time"

	"github.com/cradlewatch/cradlewatch/gateway/decode"
	"github.com/cradlewatch/cradlewatch/model"
)

// intake takes messages from one local link (the subscriber on an external
// broker, or the embedded broker's hook) or the camera prober to the spool:
// decode, map to registered devices, recognise a redelivery, stamp the
// arrival time of readings without a device time, tell urgent state
// changes apart, and append. The embedded broker calls it from each sensor
// connection's goroutine, so it has a lock; the spool's committer settles
// receipts under the receipts' own lock, never this one, because an append
// holding this lock may wait for the committer.
type intake struct {
	g      *Gateway
	mu     sync.Mutex
	sc     scratch
	seen   *receipts
	states states

	// last is the intake's latest append while it is not yet durable, with
	// the acknowledgements to send after its own (afterPending). Guarded
	// by lastMu, not mu: the committer settles it.
	lastMu sync.Mutex
	last   *pendingAppend
}

// pendingAppend is an append waiting for its fsync, and what waits for it.
type pendingAppend struct {
	settled bool
	after   []func()
}

func newIntake(g *Gateway) *intake {
	return &intake{g: g, seen: newReceipts(), states: states{}}
}

// message is one local message as the intake sees it.
type message struct {
	topic    []byte // valid during take only
	payload  []byte // valid during take only
	received time.Time
	qos      byte
	dup      bool
	pid      uint16
}

// verdict is what became of a message.
type verdict int

const (
	// verdictEmpty: nothing to keep (refused, unregistered devices, rate
	// limited): acknowledge with the group.
	verdictEmpty verdict = iota
	// verdictKept: readings gathered, to be stored with the group.
	verdictKept
	// verdictUrgent: readings gathered, among them a state change: store
	// the group now, without the group commit's wait.
	verdictUrgent
	// verdictDuplicate: a redelivery of a stored message: acknowledge,
	// store nothing.
	verdictDuplicate
	// verdictWaiting: a redelivery of a message not yet durable: its
	// acknowledgement runs once the original is (take's later).
	verdictWaiting
)

// scratch holds one intake's reusable buffers.
type scratch struct {
	obs   []decode.Observation
	now   time.Time // the arrival time given to the decoder for obs
	topic []byte    // the embedded broker's topic, as bytes
	// Entries gathered for the next store, each an arena and the end of
	// every entry in it: periodic readings, urgent readings (stored after
	// an urgent mark), receipts (after all readings, so that a receipt
	// that survived a torn write vouches for its readings).
	arena, urgent, receipts []byte
	ends, uends, rends      []int
	refs                    []receiptRef // the receipts' memory slots, settled after the append
	recs                    [][]byte
	// stamped is the last arrival time (Unix ms) given to each device's
	// readings, bounded by the registered devices.
	stamped map[*model.Device]int64
	message []stamp // the stamps given while collecting one message
	// source and bySource remember the last source's devices: a message's
	// observations, and mostly consecutive messages, share their source.
	source   string
	bySource map[string]*model.Device
}

// stamp is the arrival time given to one device's readings.
type stamp struct {
	dev *model.Device
	ms  int64
}

// gathered is the number of readings gathered and not yet stored.
func (sc *scratch) gathered() int { return len(sc.ends) + len(sc.uends) }

// device returns the registered device of an observation, nil if none.
func (sc *scratch) device(g *Gateway, o *decode.Observation) *model.Device {
	if o.Source != sc.source || sc.bySource == nil {
		sc.source, sc.bySource = o.Source, g.fac.Sources[o.Source]
	}
	return sc.bySource[o.Address]
}

// take decodes m and gathers its readings in in.sc. later acknowledges m;
// it is kept (verdictWaiting) when m is a redelivery of a message whose
// append has not finished. The caller holds in.mu.
func (in *intake) take(m *message, later func()) verdict {
	g, sc := in.g, &in.sc
	sc.now = m.received
	var err error
	sc.obs, err = g.decoders.DecodeBytes(m.topic, m.payload, sc.now, sc.obs[:0])
	if err != nil && len(sc.obs) == 0 {
		return verdictEmpty // counted and logged by the decoder set
	}
	var dg uint64
	if m.qos > 0 {
		dg = digest(m.topic, m.payload)

		if m.dup {
			if v := in.redelivered(m.pid, dg, later); v != verdictEmpty {
				return v
			}
		}
	}
	return in.collect(m, dg)
}

// redelivered looks for the stored original of a DUP message.
func (in *intake) redelivered(pid uint16, dg uint64, later func()) verdict {
	g, sc := in.g, &in.sc
	for i := range sc.obs {
		dev := sc.device(g, &sc.obs[i])
		if dev == nil {
			continue
		}
		in.seen.mu.Lock()
		ref, r := in.seen.find(dev, pid, dg)
		switch {
		case r == nil:
			in.seen.mu.Unlock()
			continue
		case r.durable:
			in.seen.mu.Unlock()
			g.m.redeliveries.WithLabelValues(redeliveryDuplicate).Inc()
			return verdictDuplicate
		default:
			in.seen.wait(ref, later)
			in.seen.mu.Unlock()
			g.m.redeliveries.WithLabelValues(redeliveryWaiting).Inc()
			return verdictWaiting
		}
	}
	g.m.redeliveries.WithLabelValues(redeliveryStored).Inc()
	return verdictEmpty
}

// collect maps sc.obs to registered devices and adds their readings to the
// entries gathered in sc; dg is the message's digest (QoS > 0).
func (in *intake) collect(m *message, dg uint64) verdict {
	g, sc := in.g, &in.sc
	sc.message = sc.message[:0]
	kept, urgent := false, false
	for i := range sc.obs {
		o := &sc.obs[i]
		dev := sc.device(g, o)
		if dev == nil {
			g.unreg.saw(o.Source, o.Address)
			continue
		}
		t := o.Time
		if t.Equal(sc.now) {
			// No device time: the arrival time, within the lead bound.
			if sc.ahead(dev, t, g.stampLead) {
				g.times.refused(o.Source, o.Address, sc.now)
				continue
			}
			t = sc.arrival(dev, t)
			g.times.untimed(o.Source)
		}
		r := model.Reading{Device: dev.ID, Room: dev.Room, Kind: o.Kind, Time: t, Value: o.Value}
		if in.states.changed(dev, o.Kind, o.Value) {
			sc.urgent = model.AppendReadingEntry(sc.urgent, &r)
			sc.uends = append(sc.uends, len(sc.urgent))
			urgent = true
		} else {
			sc.arena = model.AppendReadingEntry(sc.arena, &r)
			sc.ends = append(sc.ends, len(sc.arena))
		}
		kept = true
	}
	if m.qos > 0 {
		// A receipt per device that got an arrival stamp: only such
		// readings would be stored twice by a redelivery.
		for _, s := range sc.message {
			sc.receipts = appendReceipt(sc.receipts, m.pid, dg, s.dev.ID)
			sc.rends = append(sc.rends, len(sc.receipts))
			in.seen.mu.Lock()
			sc.refs = append(sc.refs, in.seen.add(s.dev, m.pid, dg, false))
			in.seen.mu.Unlock()
		}
	}
	switch {
	case urgent:
		return verdictUrgent
	case kept:
		return verdictKept
	}
	return verdictEmpty
}

// store hands the entries gathered in sc to the spool (which copies them)
// and empties sc; done runs once they are durable (or failed), at once when
// there is nothing to keep. With urgent readings among them the spool
// commits at once (AppendNow) and the uplink hears where they are. The
// caller holds in.mu.
func (in *intake) store(done func(error)) {
	g, sc := in.g, &in.sc
	nPeriodic, nUrgent := len(sc.ends), len(sc.uends)
	if nPeriodic+nUrgent == 0 {
		in.reset()
		done(nil)
		return
	}
	sc.recs = appendEntries(sc.recs, sc.arena, sc.ends)
	if nUrgent > 0 {
		mark := len(sc.urgent)
		sc.urgent = appendUrgentMark(sc.urgent, nUrgent)
		sc.recs = append(sc.recs, sc.urgent[mark:])
		sc.recs = appendEntries(sc.recs, sc.urgent[:mark], sc.uends)
		g.m.urgent.Add(float64(nUrgent))
	}
	sc.recs = appendEntries(sc.recs, sc.receipts, sc.rends)
	refs := slices.Clone(sc.refs)
	g.m.accepted.Add(float64(nPeriodic + nUrgent))
	pa := &pendingAppend{}
	in.lastMu.Lock()
	in.last = pa
	in.lastMu.Unlock()
	cb := func(first uint64, err error) {
		defer in.settled(pa)
		if err != nil {
			g.m.spoolFailed.Inc()
		}
		if len(refs) > 0 {
			in.seen.mu.Lock()
			acks := in.seen.settle(refs, err == nil)
			in.seen.mu.Unlock()
			for _, ack := range acks {
				ack()
			}
		}
		if err == nil && nUrgent > 0 {
			g.up.urgentAt(first + uint64(nPeriodic))
		}
		done(err)
	}
	if nUrgent > 0 {
		g.spool.AppendNow(sc.recs, cb)
	} else {
		g.spool.Append(sc.recs, cb)
	}
	in.reset()
}

// afterPending runs ack once the intake's appends so far are durable (or
// failed), at once if none is pending: the embedded broker's PUBACKs then
// leave in the order their messages arrived, as MQTT asks, also for a
// message with nothing to store behind one waiting for its fsync. Appends
// complete in order, so waiting for the latest waits for all.
func (in *intake) afterPending(ack func()) {
	in.lastMu.Lock()
	if pa := in.last; pa != nil && !pa.settled {
		pa.after = append(pa.after, ack)
		in.lastMu.Unlock()
		return
	}
	in.lastMu.Unlock()
	ack()
}

// settled runs what waited for pa, once its done callback has run.
func (in *intake) settled(pa *pendingAppend) {
	in.lastMu.Lock()
	pa.settled = true
	after := pa.after
	pa.after = nil
	if in.last == pa {
		in.last = nil
	}
	in.lastMu.Unlock()
	for _, ack := range after {
		ack()
	}
}

// reset empties sc's entries; no references into its arenas outlive it.
func (in *intake) reset() {
	sc := &in.sc
	clear(sc.recs)
	sc.arena, sc.urgent, sc.receipts = sc.arena[:0], sc.urgent[:0], sc.receipts[:0]
	sc.ends, sc.uends, sc.rends = sc.ends[:0], sc.uends[:0], sc.rends[:0]
	sc.refs, sc.recs = sc.refs[:0], sc.recs[:0]
}

// appendEntries appends to recs the entries of arena that end at ends.
func appendEntries(recs [][]byte, arena []byte, ends []int) [][]byte {
	start := 0
	for _, end := range ends {
		recs = append(recs, arena[start:end])
		start = end
	}
	return recs
}
