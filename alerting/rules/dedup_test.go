package rules

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/model"
)

// TestWindowIgnoresReadingsItHolds draws readings of one series, delivers
// them in a random order with random repeats (a batch sent again, a
// backlog sent again, a message handed over again), and checks the window
// holds each reading once: its sums and counts are those of the same
// readings delivered once, in order.
func TestWindowIgnoresReadingsItHolds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 2026))
	for c := range 300 {
		span, buckets := []time.Duration{time.Hour, 8 * time.Hour, 24 * time.Hour}[c%3], 60
		var times []int64
		t0 := int64(1_778_544_000_000) // ms
		// Within the window's span, so that no repeat is too old for it.
		for ms := t0; len(times) < 500; ms += 1 + rng.Int64N(int64(span/time.Millisecond)/1000) {
			times = append(times, ms)
		}
		value := func(ms int64) float64 { return float64(ms%9973) / 7 }
		once := newWindow(int64(span), buckets)
		for _, ms := range times {
			once.add(ms*1e6, value(ms))
		}
		// Deliveries: every reading at least once, a fifth again, in
		// batches cut anywhere and shuffled (live before backlog).
		var deliveries []int64
		for _, ms := range times {
			deliveries = append(deliveries, ms)
			if rng.IntN(5) == 0 {
				deliveries = append(deliveries, ms)
			}
		}
		rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
		dup := newWindow(int64(span), buckets)
		dups := 0
		for _, ms := range deliveries {
			switch dup.add(ms*1e6, value(ms)) {
			case duplicate:
				dups++
			case unchecked:
				t.Fatalf("case %d: unchecked below the bucket's memory limit", c)
			}
		}
		if dups != len(deliveries)-len(times) {
			t.Errorf("case %d: %d duplicates recognised, want %d", c, dups, len(deliveries)-len(times))
		}
		a, b := once.state(), dup.state()
		if a.Head != b.Head || !slices.Equal(a.Fixed, b.Fixed) || !slices.Equal(a.Counts, b.Counts) {
			t.Fatalf("case %d: the window with repeats differs from the one without", c)
		}
		if la, _ := once.mean(); la != func() level { l, _ := dup.mean(); return l }() {
			t.Fatalf("case %d: means differ", c)
		}
	}
}

// TestWindowMemoryIsBounded: a bucket remembers seenLimit reading times;
// newer readings beyond are still told apart from repeats (they are newer
// than every reading of the bucket), a repeat of one it did not remember
// is added unchecked and counted, and one it remembers is still refused.
func TestWindowMemoryIsBounded(t *testing.T) {
	w := newWindow(int64(24*time.Hour), 60) // 24-minute buckets
	base := int64(1_778_544_000_000) / (24 * 60_000) * (24 * 60_000)
	for i := range int64(seenLimit + 100) {
		if r := w.add((base+i*100)*1e6, 1); r != added {
			t.Fatalf("in-order reading %d: %v", i, r)
		}
	}
	if got := len(w.seen[w.head%60]); got != seenLimit {
		t.Fatalf("bucket remembers %d times, want at most %d", got, seenLimit)
	}
	if r := w.add((base+5*100)*1e6, 1); r != duplicate {
		t.Errorf("a remembered reading again: %v", r)
	}
	if r := w.add((base+(seenLimit+50)*100)*1e6, 1); r != unchecked {
		t.Errorf("a reading beyond the memory again: %v, want unchecked", r)
	}
	if r := w.add((base+(seenLimit+200)*100)*1e6, 1); r != added {
		t.Errorf("a newer reading: %v", r)
	}
}

// dedupFacility is F1 with a particle sensor (24-hour PM2.5 mean) and a
// formaldehyde sensor (hourly mean) in r1.
func dedupFacility() Facility {
	f := testFacility("F1")
	f.Devices = append(f.Devices,
		model.Device{ID: "aq-1", Room: "r1", Kinds: []model.Kind{model.KindPM25, model.KindHCHO}, Interval: time.Minute})
	return f
}

// TestResentBatchesCountOnce: the same readings reach two engines, once
// each in one, and in the other with every batch delivered twice and then
// the whole backlog sent again after a reconnect. Windows, alert states
// and transitions are the same; the repeats are counted.
func TestResentBatchesCountOnce(t *testing.T) {
	start := at(2026, 5, 12, 7, 0)
	type run struct {
		e     *Engine
		clk   *fakeClock
		reg   *prometheus.Registry
		fired map[string]time.Time
	}
	newRun := func() *run {
		r := &run{clk: &fakeClock{start}, reg: prometheus.NewRegistry(), fired: map[string]time.Time{}}
		r.e = New(Options{Rules: loadRules(t), Clock: r.clk.Now, Registerer: r.reg})
		if err := r.e.AddFacility(dedupFacility()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Two hours, one batch per minute: PM2.5 at 60 µg/m³ (over the daily
	// limit), formaldehyde climbing past 0.08 in the second hour, CO2 at
	// 1100 ppm for 40 minutes.
	batch := func(m int) *model.Batch {
		ts := start.Add(time.Duration(m) * time.Minute)
		hcho := 0.06
		if m >= 60 {
			hcho = 0.10
		}
		co2 := 800.0
		if m%60 < 40 {
			co2 = 1100
		}
		return &model.Batch{Facility: "F1", Gateway: "gw1", Readings: []model.Reading{
			{Device: "aq-1", Room: "r1", Kind: model.KindPM25, Time: ts, Value: 60},
			{Device: "aq-1", Room: "r1", Kind: model.KindHCHO, Time: ts, Value: hcho},
			{Device: "co2-1", Room: "r1", Kind: model.KindCO2, Time: ts, Value: co2},
		}}
	}
	observe := func(r *run, b *model.Batch) {
		for _, tr := range r.e.ObserveBatch(b) {
			if tr.To == Firing && tr.From != Firing {
				r.fired[tr.Alert.Rule] = tr.At
			}
		}
	}
	once, twice := newRun(), newRun()
	for m := range 120 {
		once.clk.t = start.Add(time.Duration(m) * time.Minute)
		twice.clk.t = once.clk.t
		observe(once, batch(m))
		observe(twice, batch(m))
		observe(twice, batch(m)) // the ack was lost: the gateway sends it again
	}
	// The gateway reconnects and its backlog lane sends the last 90 minutes
	// again (acknowledged, but the gateway did not hear it).
	for m := 30; m < 120; m++ {
		b := batch(m)
		b.Lane = model.LaneBacklog
		observe(twice, b)
	}
	now := start.Add(121 * time.Minute)
	a, b := once.e.SnapshotSeries(now), twice.e.SnapshotSeries(now)
	sortSnap := func(s SeriesSnapshot) {
		slices.SortFunc(s.Thresholds, func(x, y ThresholdState) int {
			if x.Fingerprint < y.Fingerprint {
				return -1
			}
			return 1
		})
	}
	sortSnap(a)
	sortSnap(b)
	if !reflect.DeepEqual(a, b) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		t.Fatalf("windows differ:\nonce:  %s\ntwice: %s", ja, jb)
	}
	if !reflect.DeepEqual(once.fired, twice.fired) || len(once.fired) == 0 {
		t.Fatalf("fired once %v, with repeats %v", once.fired, twice.fired)
	}
	for rule, dev := range map[string]string{"pm25_daily": "aq-1", "hcho_hourly": "aq-1", "co2_hourly": "co2-1"} {
		x, _ := once.e.Alert(Fingerprint(rule, "F1", "r1", dev))
		y, _ := twice.e.Alert(x.Fingerprint)
		if x.State != y.State || x.Value != y.Value {
			t.Errorf("%s: %s %v once, %s %v with repeats", rule, x.State, x.Value, y.State, y.Value)
		}
	}
	// 120 batches again, each with three windowed readings (PM2.5, HCHO,
	// CO2); of the backlog's 90, the day's PM2.5 mean holds all, the
	// hourly means the last 60 (older ones are older than the window).
	if got, want := testutil.ToFloat64(twice.e.m.duplicates), float64(3*120+90+2*60); got != want {
		t.Errorf("duplicates counted %v, want %v", got, want)
	}
	if got := testutil.ToFloat64(twice.e.m.unchecked); got != 0 {
		t.Errorf("unchecked %v", got)
	}
}

// TestRepeatsRecognisedAfterRestart: the reading times travel in the
// snapshot, so a message handed over again after a restart (the broker
// redelivers what was not acknowledged) is recognised.
func TestRepeatsRecognisedAfterRestart(t *testing.T) {
	start := at(2026, 5, 12, 8, 0)
	clk := &fakeClock{start}
	rs := loadRules(t)
	e := New(Options{Rules: rs, Clock: clk.Now})
	if err := e.AddFacility(testFacility("F1")); err != nil {
		t.Fatal(err)
	}
	hourOfCO2(e, clk, start, 20, func(int) float64 { return 1200 })
	snap := viaJSON(t, e.SnapshotSeries(clk.t))
	reg := prometheus.NewRegistry()
	n := New(Options{Rules: rs, Clock: clk.Now, Registerer: reg})
	if err := n.AddFacility(testFacility("F1")); err != nil {
		t.Fatal(err)
	}
	n.RestoreSeries(snap)
	before := n.SnapshotSeries(clk.t)
	hourOfCO2(n, clk, start.Add(10*time.Minute), 10, func(int) float64 { return 1200 }) // minutes 10-19 again
	if after := n.SnapshotSeries(clk.t); !reflect.DeepEqual(before.Thresholds, after.Thresholds) {
		t.Fatal("readings handed over again after a restart changed the window")
	}
	if got := testutil.ToFloat64(n.m.duplicates); got != 10 {
		t.Fatalf("duplicates %v, want 10", got)
	}
}
