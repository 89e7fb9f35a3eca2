package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/model"
)

// fakeSpool is an in-memory spool: every record is durable at once.
type fakeSpool struct {
	recs     []spool.Record // ascending index, with holes where dropped
	next     uint64
	released uint64
	releases []uint64 // every Release call
}

func newFakeSpool() *fakeSpool { return &fakeSpool{next: 1} }

func (s *fakeSpool) append(data []byte) uint64 {
	i := s.next
	s.recs = append(s.recs, spool.Record{Index: i, Data: data})
	s.next++
	return i
}

// drop removes the records in [from, to), as the spool's drop policy does.
func (s *fakeSpool) drop(from, to uint64) {
	s.recs = slices.DeleteFunc(s.recs, func(r spool.Record) bool { return r.Index >= from && r.Index < to })
}

func (s *fakeSpool) Read(from uint64, maxRecords, maxBytes int) ([]spool.Record, error) {
	var out []spool.Record
	total := 0
	for _, r := range s.recs {
		if r.Index < from {
			continue
		}
		if len(out) > 0 && (len(out) >= maxRecords || total+len(r.Data) > maxBytes) {
			break
		}
		out = append(out, spool.Record{Index: r.Index, Data: slices.Clone(r.Data)})
		total += len(r.Data)
	}
	return out, nil
}

func (s *fakeSpool) Release(upTo uint64) error {
	if upTo > s.next {
		return fmt.Errorf("release %d ahead of %d", upTo, s.next)
	}
	s.releases = append(s.releases, upTo)
	s.released = max(s.released, upTo)
	return nil
}

func (s *fakeSpool) Committed() <-chan struct{} { return nil }

func (s *fakeSpool) Stats() spool.Stats {
	depth := 0
	for _, r := range s.recs {
		if r.Index >= s.released {
			depth++
		}
	}
	return spool.Stats{Depth: depth, Released: s.released, Next: s.next, Durable: s.next}
}

// fakePub records the batches published.
type fakePub struct {
	t    *testing.T
	open bool
	sent []model.Batch
}

func (p *fakePub) Publish(topic string, _ byte, _ bool, payload any) mqtt.Token {
	if topic != model.Topic("f-1", "gw-1", model.SuffixBatch) {
		p.t.Errorf("published on %q", topic)
	}
	var b model.Batch
	if err := model.DecodeBatch(payload.([]byte), &b); err != nil {
		p.t.Fatalf("batch does not decode: %v", err)
	}
	p.sent = append(p.sent, b)
	return &mqtt.DummyToken{}
}

func (p *fakePub) IsConnectionOpen() bool { return p.open }

// take returns the batches published since the last take.
func (p *fakePub) take() []model.Batch {
	out := p.sent
	p.sent = nil
	return out
}

// harness is an uplink driven step by step, with a clock the test moves.
type harness struct {
	t     *testing.T
	u     *uplink
	sp    *fakeSpool
	pub   *fakePub
	clock time.Time
}

var testStart = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, sp *fakeSpool, lanes LaneConfig) *harness {
	h := &harness{t: t, sp: sp, pub: &fakePub{t: t, open: true}, clock: testStart}
	h.u = &uplink{
		cfg: UplinkConfig{MaxBatch: 10, MaxBatchBytes: 1 << 20, Window: 4,
			AckTimeout: 10 * time.Second, MaxAckTimeout: 80 * time.Second},
		lanes:   lanes,
		gateway: "gw-1", facility: "f-1", region: "110105001",
		sp: sp, pub: h.pub, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		now:    func() time.Time { return h.clock },
		jitter: func(int64) int64 { return 0 },
		m:      newUplinkMetrics(prometheus.NewRegistry()),
		report: newCentreReport(prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil))),
	}
	h.u.start()
	return h
}

// readings appends n readings of devices d0..d2 in turn, measured age ago.
func (h *harness) readings(n int, age time.Duration) {
	for range n {
		i := h.sp.next
		r := model.Reading{Device: fmt.Sprintf("d%d", i%3), Room: "r1", Kind: model.KindTemperature,
			Time: h.clock.Add(-age).Add(time.Duration(i) * time.Millisecond), Value: 20 + float64(i%10)/10}
		h.sp.append(model.AppendReadingEntry(nil, &r))
	}
}

func (h *harness) ack(b model.Batch, status model.AckStatus) {
	h.u.handleAck(model.Ack{V: model.WireVersion, First: b.First, Count: b.Covers(), Status: status})
}

func ranges(bs []model.Batch) []indexRange {
	out := make([]indexRange, len(bs))
	for i, b := range bs {
		out[i] = indexRange{b.First, b.First + b.Covers()}
	}
	return out
}

func (h *harness) counter(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

func TestUplinkInOrderWithoutBacklog(t *testing.T) {
	h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 2})
	h.readings(15, time.Second)
	h.u.fill()
	got := h.pub.take()
	if want := []indexRange{{1, 11}, {11, 16}}; !slices.Equal(ranges(got), want) {
		t.Fatalf("sent %v, want %v", ranges(got), want)
	}
	for i, b := range got {
		if len(b.Readings) != int(b.Span) || b.Gateway != "gw-1" || b.Facility != "f-1" || b.Region != "110105001" {
			t.Errorf("batch %d: %d readings, span %d, %s/%s/%s", i, len(b.Readings), b.Span, b.Gateway, b.Facility, b.Region)
		}
	}
	h.ack(got[0], model.AckStored)
	h.ack(got[1], model.AckStored)
	if want := []uint64{11, 16}; !slices.Equal(h.sp.releases, want) {
		t.Errorf("releases %v, want %v", h.sp.releases, want)
	}
	h.readings(3, 0)
	h.u.fill()
	if got := ranges(h.pub.take()); !slices.Equal(got, []indexRange{{16, 19}}) {
		t.Errorf("then sent %v, want [{16 19}]", got)
	}
	if n := h.counter(h.u.m.batches.WithLabelValues("backlog")); n != 0 {
		t.Errorf("backlog batches %v, want 0", n)
	}
	if n := h.counter(h.u.m.batches.WithLabelValues("live")); n != 3 {
		t.Errorf("live batches %v, want 3", n)
	}
	if n := h.counter(h.u.m.splits); n != 0 {
		t.Errorf("splits %v, want 0", n)
	}
}

func TestUplinkWindowLimitsInFlight(t *testing.T) {
	h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 100})
	h.readings(100, time.Second)
	h.u.fill()
	got := h.pub.take()
	if len(got) != 4 {
		t.Fatalf("sent %d batches with a window of 4", len(got))
	}
	h.u.fill()
	if n := len(h.pub.take()); n != 0 {
		t.Fatalf("sent %d more with a full window", n)
	}
	h.ack(got[2], model.AckStored) // out of order: frees a slot, releases nothing
	h.u.fill()
	if got := ranges(h.pub.take()); !slices.Equal(got, []indexRange{{41, 51}}) {
		t.Errorf("after one ack sent %v, want [{41 51}]", got)
	}
	if len(h.sp.releases) != 0 {
		t.Errorf("released %v before the first batch was acknowledged", h.sp.releases)
	}
}

func TestUplinkBacklogDrainsWhileLiveFlows(t *testing.T) {
	h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 2})
	h.readings(95, 3*time.Hour) // an outage's worth: more than 2 batches behind
	h.u.fill()
	first := h.pub.take()
	// The live lane jumped to the head (96); the backlog takes all slots but
	// one, which stays free for live readings.
	if want := []indexRange{{1, 11}, {11, 21}, {21, 31}}; !slices.Equal(ranges(first), want) {
		t.Fatalf("first sends %v, want %v", ranges(first), want)
	}
	if g := h.counter(h.u.m.backlog); g != 65 {
		t.Errorf("backlog gauge %v, want 65 (31..96 unsent)", g)
	}
	h.readings(2, 0)
	h.u.fill()
	live := h.pub.take()
	if want := []indexRange{{96, 98}}; !slices.Equal(ranges(live), want) {
		t.Fatalf("live readings sent %v before any backlog ack, want %v", ranges(live), want)
	}

	// Drain: ack the oldest batch each round; new live readings arrive
	// every round and go before the backlog's next batch.
	pending := append(first, live...)
	var backlog, lives []model.Batch
	backlog = append(backlog, first...)
	lives = append(lives, live...)
	for round := 0; len(pending) > 0 && round < 50; round++ {
		h.ack(pending[0], model.AckStored)
		pending = pending[1:]
		if round < 6 {
			h.readings(1, 0)
		}
		h.u.fill()
		for _, b := range h.pub.take() {
			pending = append(pending, b)
			if b.First >= 96 {
				lives = append(lives, b)
			} else {
				backlog = append(backlog, b)
			}
		}
	}
	if len(pending) != 0 {
		t.Fatalf("still in flight: %v", ranges(pending))
	}
	// The backlog went out in index order without a hole or overlap.
	want := uint64(1)
	for _, b := range backlog {
		if b.First != want {
			t.Fatalf("backlog batches %v: not contiguous at %d", ranges(backlog), want)
		}
		want = b.First + b.Covers()
	}
	if want != 96 {
		t.Errorf("backlog ends at %d, want 96", want)
	}
	checkDeviceOrder(t, "backlog", backlog)
	checkDeviceOrder(t, "live", lives)
	if len(h.u.backlogRanges) != 0 {
		t.Errorf("backlog ranges left: %v", h.u.backlogRanges)
	}
	if g := h.counter(h.u.m.backlog); g != 0 {
		t.Errorf("backlog gauge %v after the merge", g)
	}
	if h.sp.released != h.sp.next {
		t.Errorf("released up to %d, want %d (everything)", h.sp.released, h.sp.next)
	}
	if n := h.counter(h.u.m.splits); n != 1 {
		t.Errorf("splits %v, want 1", n)
	}
	// Merged: the live lane has the whole window again (and a threshold
	// high enough not to split on these 40).
	h.u.lanes.BacklogBatches = 100
	h.readings(40, 0)
	h.u.fill()
	if n := len(h.pub.take()); n != 4 {
		t.Errorf("after the merge sent %d batches, want the whole window (4)", n)
	}
}

// checkDeviceOrder fails unless each device's readings are in time order
// across bs.
func checkDeviceOrder(t *testing.T, lane string, bs []model.Batch) {
	t.Helper()
	last := map[string]time.Time{}
	for _, b := range bs {
		for _, r := range b.Readings {
			if r.Time.Before(last[r.Device]) {
				t.Errorf("%s lane: %s at %v after %v", lane, r.Device, r.Time, last[r.Device])
			}
			last[r.Device] = r.Time
		}
	}
}

func TestUplinkSplitsOnAge(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		age       time.Duration
		wantSplit bool
	}{
		{"old and more than a batch", 15, 2 * time.Minute, true},
		{"old but one batch", 10, 2 * time.Hour, false},
		{"fresh and more than a batch", 15, 30 * time.Second, false},
		{"many, fresh", 25, 0, true}, // more than BacklogBatches
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 2, BacklogAge: time.Minute})
			h.readings(tt.n, tt.age)
			h.u.fill()
			if got := h.counter(h.u.m.splits) == 1; got != tt.wantSplit {
				t.Errorf("split %v, want %v", got, tt.wantSplit)
			}
		})
	}
}

func TestUplinkOutOfOrderAcksReleasePrefix(t *testing.T) {
	tests := []struct {
		order []int    // batch positions acknowledged, in this order
		want  []uint64 // Release calls
	}{
		{[]int{0, 1, 2, 3}, []uint64{11, 21, 31, 41}},
		{[]int{3, 2, 1, 0}, []uint64{41}},
		{[]int{1, 3, 0, 2}, []uint64{21, 41}},
		{[]int{2, 0, 3, 1}, []uint64{11, 41}},
		{[]int{1, 2, 3}, nil}, // the first never acknowledged: nothing freed
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.order), func(t *testing.T) {
			h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 10})
			h.readings(40, 0)
			h.u.fill()
			sent := h.pub.take()
			for _, i := range tt.order {
				h.ack(sent[i], model.AckStored)
			}
			if !slices.Equal(h.sp.releases, tt.want) {
				t.Errorf("releases %v, want %v", h.sp.releases, tt.want)
			}
		})
	}
}

func TestUplinkTimeoutResendsBothLanesWithBackoff(t *testing.T) {
	h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 2})
	h.readings(50, time.Hour)
	h.u.fill()
	h.readings(1, 0)
	h.u.fill()
	sent := h.pub.take() // 3 backlog, 1 live
	if len(sent) != 4 || sent[3].First != 51 {
		t.Fatalf("sent %v, want 3 backlog batches and live {51 52}", ranges(sent))
	}
	wantOrder := []uint64{51, 1, 11, 21} // live lane first
	// Resends happen at 10 s, then 20 s, 40 s, 80 s (the cap) later.
	steps := []struct {
		after time.Duration
		want  int
	}{
		{9 * time.Second, 0}, {time.Second, 4}, {19 * time.Second, 0}, {time.Second, 4},
		{39 * time.Second, 0}, {time.Second, 4}, {79 * time.Second, 0}, {time.Second, 4}, {80 * time.Second, 4},
	}
	for i, s := range steps {
		h.clock = h.clock.Add(s.after)
		h.u.checkTimeout()
		got := h.pub.take()
		if len(got) != s.want {
			t.Fatalf("step %d (+%v): resent %d, want %d", i, s.after, len(got), s.want)
		}
		for j, b := range got {
			if b.First != wantOrder[j] {
				t.Errorf("step %d: resend %d is %d, want %d", i, j, b.First, wantOrder[j])
			}
		}
	}
	if n := h.counter(h.u.m.resends.WithLabelValues("backlog", resendTimeout)); n != 15 {
		t.Errorf("backlog timeout resends %v, want 15", n)
	}
	if n := h.counter(h.u.m.resends.WithLabelValues("live", resendTimeout)); n != 5 {
		t.Errorf("live timeout resends %v, want 5", n)
	}
	// An acknowledgement ends the resends of that batch only.
	h.ack(sent[3], model.AckStored)
	h.clock = h.clock.Add(90 * time.Second)
	h.u.checkTimeout()
	if got := ranges(h.pub.take()); !slices.Equal(got, []indexRange{{1, 11}, {11, 21}, {21, 31}}) {
		t.Errorf("after the live ack resent %v", got)
	}
}

func TestUplinkTimeoutJitterBounded(t *testing.T) {
	h := newHarness(t, newFakeSpool(), LaneConfig{})
	h.u.jitter = func(n int64) int64 { return n - 1 } // the largest jitter
	h.readings(5, 0)
	h.u.fill()
	h.pub.take()
	want := []time.Duration{20 * time.Second, 40 * time.Second, 80 * time.Second, 80 * time.Second}
	for i, base := range want {
		f := h.u.live.inflight[0]
		h.clock = f.sentAt.Add(f.timeout)
		h.u.checkTimeout()
		if len(h.pub.take()) != 1 {
			t.Fatalf("step %d: no resend at the timeout", i)
		}
		got := h.u.live.inflight[0].timeout
		if got < base || got > base+base/10+1 {
			t.Errorf("step %d: timeout %v, want %v plus at most 10 %%", i, got, base)
		}
	}
}

func TestUplinkReconnectResendsAll(t *testing.T) {
	h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 2})
	h.readings(50, time.Hour)
	h.pub.open = false
	h.u.fill()
	if n := len(h.pub.take()); n != 0 {
		t.Fatalf("sent %d while disconnected", n)
	}
	h.pub.open = true
	h.u.fill()
	h.readings(1, 0)
	h.u.fill()
	sent := h.pub.take()
	h.ack(sent[1], model.AckStored)
	h.pub.open = false
	h.u.resendAll(resendReconnect) // a dropped link: nothing to send on
	h.u.checkTimeout()
	if n := len(h.pub.take()); n != 0 {
		t.Fatalf("resent %d while disconnected", n)
	}
	h.pub.open = true
	h.u.resendAll(resendReconnect)
	want := []indexRange{{51, 52}, {1, 11}, {21, 31}}
	if got := ranges(h.pub.take()); !slices.Equal(got, want) {
		t.Errorf("resent %v, want %v (live first, the acknowledged one not)", got, want)
	}
	if n := h.counter(h.u.m.resends.WithLabelValues("live", resendReconnect)); n != 1 {
		t.Errorf("live reconnect resends %v, want 1", n)
	}
}

func TestUplinkAckOutcomes(t *testing.T) {
	tests := []struct {
		name        string
		acks        []model.Ack // against batches {1 11} {11 21}
		wantRelease []uint64
		wantIgnored map[string]float64
		wantRejRead float64
	}{
		{name: "duplicate ignored",
			acks:        []model.Ack{{First: 1, Count: 10, Status: model.AckStored}, {First: 1, Count: 10, Status: model.AckStored}},
			wantRelease: []uint64{11}, wantIgnored: map[string]float64{"duplicate": 1}},
		{name: "duplicate of an unreleased range ignored",
			acks:        []model.Ack{{First: 11, Count: 10, Status: model.AckStored}, {First: 11, Count: 10, Status: model.AckStored}},
			wantIgnored: map[string]float64{"duplicate": 1}},
		{name: "unknown range ignored",
			acks:        []model.Ack{{First: 1, Count: 5, Status: model.AckStored}, {First: 500, Count: 10, Status: model.AckStored}},
			wantIgnored: map[string]float64{"unknown": 2}},
		{name: "rejected releases its range",
			acks:        []model.Ack{{First: 1, Count: 10, Status: model.AckRejected, Reason: "region"}},
			wantRelease: []uint64{11}},
		{name: "readings refused one by one are counted",
			acks:        []model.Ack{{First: 1, Count: 10, Status: model.AckStored, Rejected: 3}, {First: 1, Count: 10, Status: model.AckStored, Rejected: 3}},
			wantRelease: []uint64{11}, wantRejRead: 3, wantIgnored: map[string]float64{"duplicate": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, newFakeSpool(), LaneConfig{})
			h.readings(20, 0)
			h.u.fill()
			h.pub.take()
			for _, a := range tt.acks {
				a.V = model.WireVersion
				h.u.handleAck(a)
			}
			if !slices.Equal(h.sp.releases, tt.wantRelease) {
				t.Errorf("releases %v, want %v", h.sp.releases, tt.wantRelease)
			}
			for _, r := range []string{"duplicate", "unknown"} {
				if n := h.counter(h.u.m.ignored.WithLabelValues(r)); n != tt.wantIgnored[r] {
					t.Errorf("ignored %s %v, want %v", r, n, tt.wantIgnored[r])
				}
			}
			if n := h.counter(h.u.m.rejected); n != tt.wantRejRead {
				t.Errorf("rejected readings %v, want %v", n, tt.wantRejRead)
			}
		})
	}
}

func TestUplinkDroppedBacklogTailDoesNotBlockRelease(t *testing.T) {
	h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 1})
	h.readings(30, time.Hour)
	h.u.fill() // split at 31; backlog sends {1 11} {11 21} {21 31}
	sent := h.pub.take()
	h.readings(2, 0)
	h.u.fill()
	sent = append(sent, h.pub.take()...)
	if want := []indexRange{{1, 11}, {11, 21}, {21, 31}, {31, 33}}; !slices.Equal(ranges(sent), want) {
		t.Fatalf("sent %v, want %v", ranges(sent), want)
	}

	// A second outage: the live lane falls behind again and splits again.
	h.readings(40, 10*time.Minute)
	for _, b := range sent {
		h.ack(b, model.AckStored)
	}
	// The spool drops the tail of the new backlog range before it is sent.
	h.sp.drop(60, 73)
	h.u.fill()
	got := h.pub.take()
	if want := []indexRange{{33, 43}, {43, 53}, {53, 60}}; !slices.Equal(ranges(got), want) {
		t.Fatalf("second backlog sent %v, want %v", ranges(got), want)
	}
	for _, b := range got {
		h.ack(b, model.AckStored)
	}
	h.u.fill() // finds nothing left below the live start: the dropped indexes count as done
	if h.sp.released != 73 {
		t.Errorf("released up to %d, want 73", h.sp.released)
	}
	if len(h.u.backlogRanges) != 0 {
		t.Errorf("backlog ranges left: %v", h.u.backlogRanges)
	}
}

func TestUplinkRestartResendsUnreleased(t *testing.T) {
	sp := newFakeSpool()
	h := newHarness(t, sp, LaneConfig{BacklogBatches: 10})
	h.readings(30, 0)
	h.u.fill()
	sent := h.pub.take()
	h.ack(sent[1], model.AckStored) // acknowledged but not releasable
	h.ack(sent[2], model.AckStored)
	if len(sp.releases) != 0 {
		t.Fatalf("released %v", sp.releases)
	}
	// A restart keeps the spool and loses the acknowledged set.
	h2 := newHarness(t, sp, LaneConfig{BacklogBatches: 10})
	h2.u.fill()
	if got := ranges(h2.pub.take()); !slices.Equal(got, []indexRange{{1, 11}, {11, 21}, {21, 31}}) {
		t.Errorf("after the restart sent %v, want everything again", got)
	}
}

func TestLaneConfigValidate(t *testing.T) {
	tests := []struct {
		c    LaneConfig
		ok   bool
		live int // LiveWindow after defaults, window 8
	}{
		{LaneConfig{}, true, 4},
		{LaneConfig{LiveWindow: 7}, true, 7},
		{LaneConfig{LiveWindow: 8}, false, 4},
		{LaneConfig{BacklogBatches: -1}, false, 4},
		{LaneConfig{BacklogAge: -time.Second}, false, 4},
	}
	for _, tt := range tests {
		if err := tt.c.Validate(8); (err == nil) != tt.ok {
			t.Errorf("%+v: Validate = %v, want ok %v", tt.c, err, tt.ok)
		}
		if got := tt.c.withDefaults(8).LiveWindow; got != tt.live {
			t.Errorf("%+v: live window %d, want %d", tt.c, got, tt.live)
		}
	}
}

func TestUplinkWindowOfOneNeverSplits(t *testing.T) {
	h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 1})
	h.u.cfg.Window = 1
	h.u.start()
	h.readings(50, time.Hour)
	for range 5 {
		h.u.fill()
		for _, b := range h.pub.take() {
			h.ack(b, model.AckStored)
		}
	}
	if n := h.counter(h.u.m.splits); n != 0 {
		t.Errorf("splits %v with a window of 1", n)
	}
	if h.sp.released != 51 {
		t.Errorf("released %d, want 51", h.sp.released)
	}
}
