package rules

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

const (
	benchFacilities = 1000
	benchRooms      = 6
)

var benchKinds = []model.Kind{model.KindTemperature, model.KindHumidity, model.KindCO2, model.KindPM25, model.KindHCHO, model.KindTVOC}

// benchFacility has six rooms, each with a six-kind air sensor, a door and
// a window contact: 18 devices, 36 sampled series and 12 state series.
func benchFacility(i int) Facility {
	f := Facility{Facility: model.Facility{ID: fmt.Sprintf("F%04d", i), Region: "110105001"}, Gateways: []string{"gw"}}
	for r := 0; r < benchRooms; r++ {
		room := fmt.Sprintf("r%d", r)
		rt := model.RoomToddler
		if r == 0 {
			rt = model.RoomInfant
		}
		f.Rooms = append(f.Rooms, model.Room{ID: room, Type: rt})
		f.Devices = append(f.Devices,
			model.Device{ID: room + "-air", Room: room, Kinds: benchKinds, Interval: time.Minute},
			model.Device{ID: room + "-door", Room: room, Kinds: []model.Kind{model.KindDoor}},
			model.Device{ID: room + "-win", Room: room, Kinds: []model.Kind{model.KindWindow}})
	}
	return f
}

func benchEngine(b *testing.B, clk *fakeClock) *Engine {
	e := New(Options{Rules: loadRules(b), Clock: clk.Now})
	for i := 0; i < benchFacilities; i++ {
		if err := e.AddFacility(benchFacility(i)); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// BenchmarkObserve measures readings per second with the default rules for
// 1,000 facilities: each batch is one room's six air readings, facilities
// in turn, event time advancing one minute per round.
func BenchmarkObserve(b *testing.B) {
	start := at(2026, 5, 12, 9, 0)
	clk := &fakeClock{start}
	e := benchEngine(b, clk)
	ids := make([]string, benchFacilities)
	batches := make([]model.Batch, benchFacilities*benchRooms)
	for i := range ids {
		ids[i] = fmt.Sprintf("F%04d", i)
		for r := 0; r < benchRooms; r++ {
			bt := &batches[i*benchRooms+r]
			bt.Facility, bt.Gateway = ids[i], "gw"
			room := fmt.Sprintf("r%d", r)
			for _, k := range benchKinds {
				bt.Readings = append(bt.Readings, model.Reading{Device: room + "-air", Room: room, Kind: k})
			}
		}
	}
	values := map[model.Kind]float64{model.KindTemperature: 23, model.KindHumidity: 50, model.KindCO2: 700,
		model.KindPM25: 20, model.KindHCHO: 0.03, model.KindTVOC: 0.2}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; n < b.N; i++ {
		bt := &batches[i%len(batches)]
		ts := start.Add(time.Duration(i/len(batches)) * time.Minute)
		clk.t = ts
		for j := range bt.Readings {
			bt.Readings[j].Time = ts
			bt.Readings[j].Value = values[bt.Readings[j].Kind] + float64(i%7)
		}
		e.ObserveBatch(bt)
		n += len(bt.Readings)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/reading")
}

// BenchmarkTick measures one Tick over 1,000 facilities.
func BenchmarkTick(b *testing.B) {
	start := at(2026, 5, 12, 9, 0)
	clk := &fakeClock{start}
	e := benchEngine(b, clk)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Tick(start.Add(time.Minute))
	}
}

// TestMemoryPerFacility reports (not asserts) the heap per facility after
// every series has been built and filled for a day.
func TestMemoryPerFacility(t *testing.T) {
	if testing.Short() {
		t.Skip("memory report skipped under -short")
	}
	const n = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := at(2026, 5, 12, 0, 0)
	clk := &fakeClock{start}
	e := New(Options{Rules: loadRules(t), Clock: clk.Now})
	for i := 0; i < n; i++ {
		if err := e.AddFacility(benchFacility(i)); err != nil {
			t.Fatal(err)
		}
	}
	for m := 0; m < 24*60; m += 10 {
		clk.t = start.Add(time.Duration(m) * time.Minute)
		for i := 0; i < n; i++ {
			for r := 0; r < benchRooms; r++ {
				room := fmt.Sprintf("r%d", r)
				for _, k := range benchKinds {
					e.Observe(fmt.Sprintf("F%04d", i), model.Reading{Device: room + "-air", Room: room, Kind: k, Time: clk.t, Value: 1})
				}
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("heap per facility: %d bytes (%d facilities, %d rooms each)", (after.HeapAlloc-before.HeapAlloc)/n, n, benchRooms)
	runtime.KeepAlive(e)
}
