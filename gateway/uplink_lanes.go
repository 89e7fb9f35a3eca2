package gateway

import (
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

// laneID names a lane; it is the metrics' lane label.
type laneID int

const (
	laneLive laneID = iota
	laneBacklog
)

func (l laneID) String() string {
	if l == laneLive {
		return "live"
	}
	return "backlog"
}

// lane is one lane's batches in flight, in index order: each lane sends in
// index order, so a device's readings leave in order within a lane.
type lane struct {
	id       laneID
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
// the caller should try the live lane again.
func (u *uplink) fillLive() bool {
	recs, ok := u.read(u.next)
	if !ok || len(recs) == 0 {
		return false
	}
	if u.farBehind(recs) {
		head := u.sp.Stats().Durable
		u.log.Info("backlog left to the backlog lane; live readings go first", "from", u.next, "to", head)
		u.pushBacklog(u.next, head)
		u.next = head
		u.m.splits.Inc()
		return true
	}
	f := u.newBatch(laneLive, u.next, recs)
	u.next = f.first + f.span
	u.launch(f)
	return true
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
		f := u.newBatch(laneBacklog, r.first, recs[:n])
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
// spool dropped before it are covered and acknowledged too.
func (u *uplink) newBatch(l laneID, first uint64, recs []spool.Record) *inflight {
	b := &u.batch
	*b = model.Batch{Gateway: u.gateway, Facility: u.facility, Region: u.region, First: first,
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
	b.Span = recs[len(recs)-1].Index + 1 - first
	return &inflight{lane: l, first: first, span: b.Span, readings: len(b.Readings),
		payload: model.EncodeBatch(nil, b), backoff: u.cfg.AckTimeout, timeout: u.cfg.AckTimeout}
}
