package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/model"
)

// hourOfCO2 feeds one reading a minute from `from` for n minutes and
// returns the event times at which co2_hourly changed state, by state.
func hourOfCO2(e *Engine, clk *fakeClock, from time.Time, n int, v func(m int) float64) map[State]time.Time {
	out := map[State]time.Time{}
	for m := 0; m < n; m++ {
		clk.t = from.Add(time.Duration(m) * time.Minute)
		for _, tr := range e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Readings: []model.Reading{
			{Device: "co2-1", Room: "r1", Kind: model.KindCO2, Time: clk.t, Value: v(m)}}}) {
			if tr.Alert.Rule == "co2_hourly" && tr.From != tr.To {
				out[tr.To] = tr.At
			}
		}
	}
	return out
}

// viaJSON is s as a restart reads it back from series.json.
func viaJSON(t *testing.T, s SeriesSnapshot) SeriesSnapshot {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back SeriesSnapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// TestRestartKeepsHourlyMean: 40 minutes at 1200 ppm then 500 ppm. Without
// a restart the hourly mean fires at minute 29 and resolves at minute 61
// (TestRollingWindow). A restart at minute 20 and another at minute 50,
// each carrying the snapshot over as JSON, change neither time: the mean
// is not reset. Without the snapshot the alert would never fire: the mean
// starts again at minute 20, is first judged at minute 49 (half an hour of
// coverage), and by then ten minutes of 500 ppm keep it below the limit.
func TestRestartKeepsHourlyMean(t *testing.T) {
	start := at(2026, 5, 12, 8, 0)
	value := func(m int) float64 {
		if m < 40 {
			return 1200
		}
		return 500
	}
	rs := loadRules(t)
	restart := func(e *Engine, clk *fakeClock, snapshot bool) *Engine {
		back := viaJSON(t, e.SnapshotSeries(clk.t))
		alerts := e.Alerts()
		n := New(Options{Rules: rs, Clock: clk.Now})
		if err := n.AddFacility(testFacility("F1")); err != nil {
			t.Fatal(err)
		}
		n.Restore(alerts)
		if snapshot {
			if applied := n.RestoreSeries(back); applied == 0 {
				t.Fatal("nothing restored")
			}
		}
		return n
	}
	for _, tc := range []struct {
		name     string
		snapshot bool
		fired    time.Duration
	}{
		{"with the snapshot", true, 29 * time.Minute},
		{"without (what a restart used to do)", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{start}
			e := New(Options{Rules: rs, Clock: clk.Now})
			if err := e.AddFacility(testFacility("F1")); err != nil {
				t.Fatal(err)
			}
			got := hourOfCO2(e, clk, start, 20, value)
			e = restart(e, clk, tc.snapshot)
			for k, v := range hourOfCO2(e, clk, start.Add(20*time.Minute), 30, func(m int) float64 { return value(m + 20) }) {
				got[k] = v
			}
			e = restart(e, clk, tc.snapshot)
			for k, v := range hourOfCO2(e, clk, start.Add(50*time.Minute), 30, func(m int) float64 { return value(m + 50) }) {
				got[k] = v
			}
			if want := start.Add(tc.fired); tc.fired == 0 && !got[Firing].IsZero() || tc.fired != 0 && !got[Firing].Equal(want) {
				t.Errorf("fired at %s, want %s", got[Firing].Format(time.TimeOnly), want.Format(time.TimeOnly))
			}
			if tc.snapshot {
				if want := start.Add(61 * time.Minute); !got[Resolved].Equal(want) {
					t.Errorf("resolved at %s, want %s", got[Resolved].Format(time.TimeOnly), want.Format(time.TimeOnly))
				}
			}
		})
	}
}

// TestRestoreDropsChangedWindow: a snapshot taken with a 1-hour window is
// not laid over a rule whose window changed; it is counted, and the
// other thresholds are restored.
func TestRestoreDropsChangedWindow(t *testing.T) {
	start := at(2026, 5, 12, 8, 0)
	clk := &fakeClock{start}
	e := New(Options{Rules: loadRules(t), Clock: clk.Now})
	if err := e.AddFacility(testFacility("F1")); err != nil {
		t.Fatal(err)
	}
	hourOfCO2(e, clk, start, 10, func(int) float64 { return 800 })
	snap := e.SnapshotSeries(clk.t)

	b := []byte(strings.Replace(rulesText(t), "    window: 1h\n    min_coverage: 0.5\n    max: 1000\n", "    window: 2h\n    min_coverage: 0.5\n    max: 1000\n", 1))
	rs, err := Parse("rules.yaml", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	n := New(Options{Rules: rs, Clock: clk.Now, Registerer: reg})
	if err := n.AddFacility(testFacility("F1")); err != nil {
		t.Fatal(err)
	}
	applied := n.RestoreSeries(snap)
	changed := testutil.ToFloat64(n.m.seriesRestored.WithLabelValues("changed"))
	if changed != 1 || applied == 0 {
		t.Fatalf("applied %d, changed %v; want the co2_hourly window dropped and the rest applied", applied, changed)
	}
}

// TestRestoreVersion1: a snapshot of the layout before fixed point (the
// sums as floating-point numbers, no exact level) is read: its means go on
// where they were.
func TestRestoreVersion1(t *testing.T) {
	start := at(2026, 5, 12, 8, 0)
	clk := &fakeClock{start.Add(20 * time.Minute)}
	const v1 = `{"version":1,"taken":"2026-05-12T08:20:00+08:00","thresholds":[
		{"fingerprint":"%s","judged":true,"value":1200,"time_ns":%d,
		 "window":{"width_ns":60000000000,"head":%d,"sums":[%s],"counts":[%s]}}]}`
	fp := Fingerprint("co2_hourly", "F1", "r1", "co2-1")
	head := clk.t.Add(-time.Minute).UnixNano() / int64(time.Minute)
	sums, counts := make([]string, 60), make([]string, 60)
	for i := range 60 {
		sums[i], counts[i] = "0", "0"
		if i >= 40 { // the last 20 minutes: 1200 ppm
			sums[i], counts[i] = "1200", "1"
		}
	}
	var snap SeriesSnapshot
	if err := json.Unmarshal([]byte(fmt.Sprintf(v1, fp, clk.t.Add(-time.Minute).UnixNano(), head,
		strings.Join(sums, ","), strings.Join(counts, ","))), &snap); err != nil {
		t.Fatal(err)
	}
	e := New(Options{Rules: loadRules(t), Clock: clk.Now})
	if err := e.AddFacility(testFacility("F1")); err != nil {
		t.Fatal(err)
	}
	if n := e.RestoreSeries(snap); n != 1 {
		t.Fatalf("restored %d thresholds, want 1", n)
	}
	got := hourOfCO2(e, clk, clk.t, 15, func(int) float64 { return 1200 })
	if want := start.Add(29 * time.Minute); !got[Firing].Equal(want) {
		t.Fatalf("fired at %s, want %s (the restored twenty minutes count)", got[Firing].Format(time.TimeOnly), want.Format(time.TimeOnly))
	}
}
