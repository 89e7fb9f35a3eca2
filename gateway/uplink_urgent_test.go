package gateway

import (
	"slices"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// urgentRun appends what the intake appends for an urgent state change:
// a mark, then n door readings. It returns the mark's index.
func (h *harness) urgentRun(n int) uint64 {
	mark := h.sp.append(appendUrgentMark(nil, n))
	for i := range n {
		r := model.Reading{Device: "door", Room: "r1", Kind: model.KindDoor, Time: h.clock.Add(time.Duration(i) * time.Millisecond), Value: 1}
		h.sp.append(model.AppendReadingEntry(nil, &r))
	}
	return mark
}

type laneOf struct {
	r        indexRange
	lane     model.Lane
	draining bool
}

func lanesOf(bs []model.Batch) []laneOf {
	out := make([]laneOf, len(bs))
	for i, b := range bs {
		out[i] = laneOf{indexRange{b.First, b.First + b.Covers()}, b.Lane, b.Draining}
	}
	return out
}

// An urgent run goes in a batch of its own on the urgent lane, with its
// readings only (the mark is the gateway's: nothing of it travels); the
// live batches around it stop before it and go on after it.
func TestUplinkSendsUrgentRunsInTheirOwnBatch(t *testing.T) {
	h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 10})
	h.readings(3, 0) // 1..3
	h.urgentRun(2)   // mark 4, doors 5..6
	h.readings(2, 0) // 7..8
	h.u.fill()
	got := h.pub.take()
	want := []laneOf{{indexRange{1, 4}, model.LaneLive, false}, {indexRange{4, 7}, model.LaneUrgent, false}, {indexRange{7, 9}, model.LaneLive, false}}
	if !slices.Equal(lanesOf(got), want) {
		t.Fatalf("sent %+v, want %+v", lanesOf(got), want)
	}
	if u := got[1]; len(u.Readings) != 2 || u.Readings[0].Kind != model.KindDoor || len(u.Gaps) != 0 {
		t.Errorf("urgent batch carries %+v", u.Readings)
	}
	if n := h.counter(h.u.m.batches.WithLabelValues("urgent")); n != 1 {
		t.Errorf("urgent batches %v, want 1", n)
	}
	for _, b := range got {
		h.ack(b, model.AckStored)
	}
	if h.sp.released != 9 {
		t.Errorf("released up to %d, want 9", h.sp.released)
	}
}

// An urgent run does not wait for a slot of the window: when the live lane
// has a full window, the run the committer reported (urgentAt) is sent
// ahead at once, and the live lane passes over it when it gets there.
func TestUplinkUrgentRunBypassesAFullWindow(t *testing.T) {
	h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 100})
	h.readings(60, 0) // six batches: the window holds four
	h.u.fill()
	first := h.pub.take()
	if len(first) != 4 {
		t.Fatalf("sent %d batches, want a full window of 4", len(first))
	}
	mark := h.urgentRun(1) // 61..62
	h.readings(5, 0)       // 63..67
	h.u.urgentAt(mark)
	h.u.fill()
	ahead := h.pub.take()
	if want := []laneOf{{indexRange{61, 63}, model.LaneUrgent, false}}; !slices.Equal(lanesOf(ahead), want) {
		t.Fatalf("with a full window sent %+v, want the urgent run %+v", lanesOf(ahead), want)
	}
	// The window frees up: the live lane sends the rest, around the run.
	var rest []model.Batch
	for _, b := range first {
		h.ack(b, model.AckStored)
		h.u.fill()
		rest = append(rest, h.pub.take()...)
	}
	if want := []indexRange{{41, 51}, {51, 61}, {63, 68}}; !slices.Equal(ranges(rest), want) {
		t.Fatalf("then sent %v, want %v (the urgent run passed over)", ranges(rest), want)
	}
	for _, b := range append(ahead, rest...) {
		h.ack(b, model.AckStored)
	}
	if h.sp.released != 68 {
		t.Errorf("released up to %d, want 68", h.sp.released)
	}
	// A report of a run the live lane already sent is ignored.
	h.u.urgentAt(mark)
	h.u.fill()
	if got := h.pub.take(); len(got) != 0 {
		t.Errorf("sent %v again", ranges(got))
	}
}

// Every batch says its lane and whether older entries are still
// unacknowledged behind the backlog lane: live and urgent batches while
// any backlog is left, a backlog batch while an older backlog batch is in
// flight. A run sent ahead is not the backlog's when the live lane jumps.
func TestUplinkLanesAndDraining(t *testing.T) {
	h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 2})
	h.readings(40, 3*time.Hour) // 1..40: an outage's worth
	mark := h.urgentRun(1)      // 41..42, reported at once
	h.u.urgentAt(mark)
	h.u.fill()
	got := lanesOf(h.pub.take())
	want := []laneOf{
		{indexRange{41, 43}, model.LaneUrgent, true}, // sent ahead of 40 unsent entries, more than 2 batches
		{indexRange{1, 11}, model.LaneBacklog, false},
		{indexRange{11, 21}, model.LaneBacklog, true},
		{indexRange{21, 31}, model.LaneBacklog, true},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("sent %+v\nwant %+v", got, want)
	}
	if !slices.Equal(h.u.backlogRanges, []indexRange{{31, 41}}) {
		t.Errorf("backlog ranges %v, want [{31 41}]: the urgent run is not the backlog's", h.u.backlogRanges)
	}
	h.readings(1, 0) // 43
	h.urgentRun(1)   // 44..45, not reported: the live lane finds it
	h.u.fill()
	want = []laneOf{{indexRange{43, 44}, model.LaneLive, true}, {indexRange{44, 46}, model.LaneUrgent, true}}
	if got := lanesOf(h.pub.take()); !slices.Equal(got, want) {
		t.Fatalf("during the drain sent %+v, want %+v", got, want)
	}
}

// The receipts the intake appends after an urgent run's readings travel
// in the urgent batch's range (carrying nothing), not in a batch of their
// own.
func TestUplinkUrgentBatchCoversTheReceiptsAfterIt(t *testing.T) {
	h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 10})
	h.urgentRun(1) // 1..2
	h.sp.append(appendReceipt(nil, 7, 42, "door"))
	h.sp.append(appendReceipt(nil, 8, 43, "door")) // 3..4
	h.readings(2, 0)                               // 5..6
	h.u.fill()
	want := []laneOf{{indexRange{1, 5}, model.LaneUrgent, false}, {indexRange{5, 7}, model.LaneLive, false}}
	got := h.pub.take()
	if !slices.Equal(lanesOf(got), want) {
		t.Fatalf("sent %+v, want %+v", lanesOf(got), want)
	}
	if len(got[0].Readings) != 1 {
		t.Errorf("urgent batch carries %d readings, want the door's only", len(got[0].Readings))
	}
}
