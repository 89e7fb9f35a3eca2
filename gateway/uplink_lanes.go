package gateway

import (
	"slices"
	"time"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
)

// Defaults of LaneConfig.
const (
	// DefaultBacklogBatches: eight batches (8,000 readings by default) is
	// what one window carries in one acknowledgement round trip, so a smaller
	// backlog delays live readings by about one round trip and is not worth
	// a second cursor.
	DefaultBacklogBatches = 8
	// DefaultBacklogAge: a facility reporting once a second needs more than
	// two hours to pile up DefaultBacklogBatches, while its live readings
	// should reach the centre's alerting within about a minute.
	DefaultBacklogAge = time.Minute
)

// LaneConfig says when the uplink splits into a live lane and a backlog lane
// and how they share the window of unacknowledged batches.
//
// The live lane follows the spool head. When it finds itself far behind
// (after an outage of the link or of the centre, or a restart with a full
// spool), it leaves the unsent range to the backlog lane and jumps to the
// head, so current readings reach the centre's alerting at once. "Far
// behind" is more than BacklogBatches batches of unsent spool indexes, or
// more than one batch whose oldest reading is older than BacklogAge. The
// backlog lane walks its ranges from the release point in index order; when
// it has sent them all the lanes are one again.
//
// Sharing the window: live batches go first, since a facility produces 1-10
// readings a second and its live batches are small and few. While a backlog
// is left the live lane holds at most LiveWindow batches in flight, so the
// backlog always has the rest of the window and keeps draining; the backlog
// holds at most all slots but one, so a new live batch always finds a free
// slot and leaves at once instead of waiting for a backlog acknowledgement.
// With no backlog the live lane may use the whole window. With the default
// window of 8: live 1-4 batches in flight, backlog 4-7.
type LaneConfig struct {
	BacklogBatches int           `mapstructure:"backlog_batches"` // 0: DefaultBacklogBatches
	BacklogAge     time.Duration `mapstructure:"backlog_age"`     // 0: DefaultBacklogAge
	LiveWindow     int           `mapstructure:"live_window"`     // 0: half the window; a window of 1 cannot be shared and never splits
}

// Validate checks the lane settings against the uplink's window; keys are
// under uplink.lanes.
func (c LaneConfig) Validate(window int) error {
	switch {
	case c.BacklogBatches < 0:
		return config.Errorf("uplink.lanes.backlog_batches", "must not be negative")
	case c.BacklogAge < 0:
		return config.Errorf("uplink.lanes.backlog_age", "must not be negative")
	case c.LiveWindow < 0 || (c.LiveWindow > 0 && c.LiveWindow >= window):
		return config.Errorf("uplink.lanes.live_window", "must be 0 (half the window) or 1..window-1 (%d)", window-1)
	}
	return nil
}

// withDefaults fills zero settings.
func (c LaneConfig) withDefaults(window int) LaneConfig {
	if c.BacklogBatches == 0 {
		c.BacklogBatches = DefaultBacklogBatches
	}
	if c.BacklogAge == 0 {
		c.BacklogAge = DefaultBacklogAge
	}
	if c.LiveWindow == 0 || c.LiveWindow >= window {
		c.LiveWindow = window / 2
	}
	return c
}

// lanes are the uplink's lanes, in the order acknowledgements are looked
// up and batches resent: urgent first, then live, then backlog.
var lanes = []model.Lane{model.LaneUrgent, model.LaneLive, model.LaneBacklog}

// lane is one lane's batches in flight, in index order: each lane sends in
// index order, so a device's readings leave in order within a lane.
type lane struct {
	id       model.Lane
	inflight []*inflight
}

// remove takes f out of the lane.
func (l *lane) remove(f *inflight) {
	for i, g := range l.inflight {
		if g == f {
			l.inflight = append(l.inflight[:i], l.inflight[i+1:]...)
			return
		}
	}
}

// liveCap is how many batches the live lane may have in flight now.
func (u *uplink) liveCap() int {
	if len(u.backlogRanges) > 0 {
		return u.lanes.LiveWindow
	}
	return u.cfg.Window
}

// fillLive sends the next live batch, if there is one; it reports whether
// the caller should try the live lane again. An urgent run at its cursor
// goes as an urgent batch (without a slot of the window); one further on
// ends the live batch before it; one already sent ahead (skip) is passed.
func (u *uplink) fillLive() bool {
	for len(u.skip) > 0 && u.skip[0].end <= u.next {
		u.skip = u.skip[1:]
	}
	if len(u.skip) > 0 && u.skip[0].first <= u.next {
		u.next = u.skip[0].end
		u.skip = u.skip[1:]
		return true
	}
	recs, ok := u.read(u.next)
	if !ok || len(recs) == 0 {
		return false
	}
	if len(u.skip) > 0 {
		recs = before(recs, u.skip[0].first)
	}
	if u.farBehind(recs) {
		head := u.sp.Stats().Durable
		u.log.Info("backlog left to the backlog lane; live readings go first", "from", u.next, "to", head)
		// What the urgent lane sent ahead is not the backlog's.
		from := u.next
		for _, r := range u.skip {
			if r.first >= head {
				break
			}
			u.pushBacklog(from, r.first)
			from = r.end
		}
		u.pushBacklog(from, head)
		for len(u.skip) > 0 && u.skip[0].first < head {
			u.skip = u.skip[1:]
		}
		u.next = max(head, from)
		u.m.splits.Inc()
		return true
	}
	if n := urgentCount(recs[0].Data); n > 0 {
		if len(u.urgent.inflight) >= u.cfg.Window {
			return false // the urgent lane's own window is full: wait for an ack
		}
		f := u.newBatch(model.LaneUrgent, u.next, recs[:urgentRunLen(recs, n)])
		u.next = f.first + f.span
		u.launch(f)
		return true
	}
	for i := 1; i < len(recs); i++ {
		if urgentCount(recs[i].Data) > 0 {
			recs = recs[:i] // the urgent run goes in a batch of its own
			break
		}
	}
	f := u.newBatch(model.LaneLive, u.next, recs)
	u.next = f.first + f.span
	u.launch(f)
	return true
}

// urgentAtCursor lets the live lane send an urgent run at its cursor when
// its share of the window is used up: urgent batches take no slot of it.
// It reports whether it sent. It peeks at one record, so that a full window
// costs no batch-sized read.
func (u *uplink) urgentAtCursor() bool {
	if len(u.urgent.inflight) >= u.cfg.Window || (len(u.skip) > 0 && u.skip[0].first <= u.next) {
		return false
	}
	recs, err := u.sp.Read(u.next, 1, 0)
	if err != nil || len(recs) == 0 || recs[0].Index != u.next || urgentCount(recs[0].Data) == 0 {
		return false
	}
	return u.fillLive()
}

// urgentRunLen is how many records of recs (starting with an urgent mark
// of n readings) the urgent batch covers: the mark, its readings, and the
// receipts that follow them, which belong to the same append and would
// otherwise make a batch of their own with nothing in it.
func urgentRunLen(recs []spool.Record, n int) int {
	end := min(1+n, len(recs))
	for end < len(recs) && model.EntryType(recs[end].Data) == entryReceipt && recs[end].Index == recs[end-1].Index+1 {
		end++
	}
	return end
}

// before returns the records of recs with an index below end.
func before(recs []spool.Record, end uint64) []spool.Record {
	for i, r := range recs {
		if r.Index >= end {
			return recs[:i]
		}
	}
	return recs
}

// urgentAt is called by the spool's committer once an urgent run starting
// at index (its mark) is durable; the uplink sends it at once (run).
func (u *uplink) urgentAt(index uint64) {
	u.hintMu.Lock()
	if len(u.hints) < maxUrgentHints {
		u.hints = append(u.hints, index)
	}
	u.hintMu.Unlock()
	select {
	case u.urgentWake <- struct{}{}:
	default:
	}
}

// maxUrgentHints bounds the urgent runs waiting to be sent ahead; beyond it
// the live lane sends them when it reaches them.
const maxUrgentHints = 1024

// sendUrgentAhead sends the urgent runs the committer reported that the
// live lane has not reached, each in an urgent batch of its own, up to
// Window urgent batches in flight; the live lane passes over them later
// (skip). Without a connection the hints are forgotten: the live lane sends
// the runs when it gets to them, which it does first after a reconnect.
func (u *uplink) sendUrgentAhead() {
	u.hintMu.Lock()
	hints := u.hints
	u.hints = nil
	u.hintMu.Unlock()
	if !u.pub.IsConnectionOpen() {
		return
	}
	for i, h := range hints {
		if len(u.urgent.inflight) >= u.cfg.Window {
			u.hintMu.Lock()
			u.hints = append(hints[i:], u.hints...) // after an ack
			u.hintMu.Unlock()
			return
		}
		if h < u.next || u.skipped(h) {
			continue // the live lane sent it already
		}
		recs, ok := u.read(h)
		if !ok || len(recs) == 0 || recs[0].Index != h {
			continue
		}
		n := urgentCount(recs[0].Data)
		if n == 0 {
			continue
		}
		f := u.newBatch(model.LaneUrgent, h, recs[:urgentRunLen(recs, n)])
		u.addSkip(f.first, f.first+f.span)
		u.launch(f)
	}
}

// skipped reports whether index lies in a range sent ahead.
func (u *uplink) skipped(index uint64) bool {
	for _, r := range u.skip {
		if index >= r.first && index < r.end {
			return true
		}
	}
	return false
}

// addSkip records [first, end) as sent ahead of the live lane, keeping the
// ranges sorted.
func (u *uplink) addSkip(first, end uint64) {
	i := len(u.skip)
	for i > 0 && u.skip[i-1].first > first {
		i--
	}
	u.skip = slices.Insert(u.skip, i, indexRange{first, end})
}

// farBehind reports whether the live lane, about to send recs (read at its
// cursor), should leave what is unsent to the backlog lane.
func (u *uplink) farBehind(recs []spool.Record) bool {
	if u.lanes.LiveWindow < 1 {
		return false // a window of one cannot be shared
	}
	head := u.sp.Stats().Durable
	if head <= u.next {
		return false
	}
	behind := head - u.next
	if behind > uint64(u.lanes.BacklogBatches)*uint64(u.cfg.MaxBatch) {
		return true
	}
	// Age only counts when more than this batch is unsent: a backlog that
	// fits in one batch is one message ahead of the live readings anyway.
	last := recs[len(recs)-1].Index
	if head <= last+1 || model.EntryType(recs[0].Data) != model.EntryReading {
		return false
	}
	var r model.Reading
	if model.DecodeReadingEntry(recs[0].Data, &r) != nil {
		return false
	}
	return u.now().Sub(r.Time) > u.lanes.BacklogAge
}

// pushBacklog hands [from, to) to the backlog lane, after what it already
// has: backlog ranges are in index order, so the backlog drains in order.
func (u *uplink) pushBacklog(from, to uint64) {
	if from >= to {
		return
	}
	if n := len(u.backlogRanges); n > 0 && u.backlogRanges[n-1].end == from {
		u.backlogRanges[n-1].end = to
	} else {
		u.backlogRanges = append(u.backlogRanges, indexRange{from, to})
	}
	u.setBacklogGauge()
}

// fillBacklog sends the next backlog batch, if there is one; it reports
// whether it sent.
func (u *uplink) fillBacklog() bool {
	for len(u.backlogRanges) > 0 {
		r := &u.backlogRanges[0]
		recs, ok := u.read(r.first)
		if !ok {
			return false
		}
		n := 0
		for n < len(recs) && recs[n].Index < r.end {
			n++
		}
		if n == 0 {
			// Every index left in the range was durable when the live lane
			// jumped, so what Read no longer finds was dropped by the spool
			// (a gap entry reports it): nothing to send, nothing to wait for.
			u.acked.add(r.first, r.end)
			u.backlogRanges = u.backlogRanges[1:]
			u.setBacklogGauge()
			u.advanceRelease()
			continue
		}
		f := u.newBatch(model.LaneBacklog, r.first, recs[:n])
		r.first = f.first + f.span
		if r.first >= r.end {
			u.backlogRanges = u.backlogRanges[1:]
		}
		u.setBacklogGauge()
		u.launch(f)
		if len(u.backlogRanges) == 0 {
			u.log.Info("backlog sent; the lanes are one again", "live_from", u.next)
		}
		return true
	}
	return false
}

func (u *uplink) setBacklogGauge() {
	var n uint64
	for _, r := range u.backlogRanges {
		n += r.end - r.first
	}
	u.m.backlog.Set(float64(n))
}

// read reads the next batch's records from the spool at from. With the
// real spool they are read into the uplink's one reusable buffer, so they
// are valid until the next read: every caller encodes them (newBatch
// copies) before it reads again.
func (u *uplink) read(from uint64) ([]spool.Record, bool) {
	var recs []spool.Record
	var err error
	if r, ok := u.sp.(spoolBufferedReader); ok {
		err = r.ReadInto(&u.rbuf, from, u.cfg.MaxBatch, u.cfg.MaxBatchBytes)
		recs = u.rbuf.Records
	} else {
		recs, err = u.sp.Read(from, u.cfg.MaxBatch, u.cfg.MaxBatchBytes)
	}
	if err != nil {
		u.m.spoolErrors.WithLabelValues("read").Inc()
		u.log.Error("spool read failed", "from", from, "err", err)
		return nil, false
	}
	return recs, true
}

// newBatch encodes recs as the batch [first, last record + 1) of lane l.
// The range starts at first, not at the first record, so that indexes the
// spool dropped before it are covered and acknowledged too. The batch says
// its lane, and whether it is draining: older entries are still
// unacknowledged behind the backlog lane (for a backlog batch, older
// backlog batches in flight; for the others, any backlog at all), as the
// uplink knows when it first encodes the batch (a resend repeats it).
func (u *uplink) newBatch(l model.Lane, first uint64, recs []spool.Record) *inflight {
	b := &u.batch
	*b = model.Batch{Gateway: u.gateway, Facility: u.facility, Region: u.region, First: first,
		Sent: u.now(), Lane: l, Draining: u.draining(l, first), Readings: b.Readings[:0], Gaps: b.Gaps[:0]}
	for _, r := range recs {
		switch model.EntryType(r.Data) {
		case entryUrgent, entryReceipt:
			// The gateway's own entries: nothing for the centre.
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
	b.Span = recs[len(recs)-1].Index + 1 - first
	return &inflight{lane: l, first: first, span: b.Span, readings: len(b.Readings),
		payload: model.EncodeBatch(nil, b), backoff: u.cfg.AckTimeout, timeout: u.cfg.AckTimeout}
}

// draining reports whether a batch of lane l starting at first leaves
// older entries unacknowledged behind the backlog lane. An urgent run sent
// ahead of a live lane that is more than BacklogBatches batches behind it
// is draining too: those entries are a backlog the live lane has not yet
// handed over.
func (u *uplink) draining(l model.Lane, first uint64) bool {
	if l != model.LaneBacklog {
		ahead := first > u.next && first-u.next > uint64(u.lanes.BacklogBatches)*uint64(u.cfg.MaxBatch)
		return ahead || len(u.backlogRanges) > 0 || len(u.backlog.inflight) > 0
	}
	for _, f := range u.backlog.inflight {
		if f.first < first {
			return true
		}
	}
	return false
}
