package rules

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// TestMeanAtTheLimitIsInLimits: sixty readings of exactly 0.08 mg/m³ of
// formaldehyde average to 0.08000000000000002 in floating point (what the
// engine used to compute, and fire on); in fixed point their mean is 0.08,
// at the limit, in limits. One step above the limit in one reading fires.
// Readings that average exactly to the limit without being equal do not.
func TestMeanAtTheLimitIsInLimits(t *testing.T) {
	var naive float64
	for range 60 {
		naive += 0.08
	}
	if naive/60 <= 0.08 {
		t.Fatalf("the floating-point mean is %v: the case this test guards no longer shows", naive/60)
	}
	start := at(2026, 5, 12, 8, 0) // Tuesday, open
	for _, tc := range []struct {
		name   string
		value  func(m int) float64
		firing bool
	}{
		{"sixty readings at the limit", func(int) float64 { return 0.08 }, false},
		{"0.07 and 0.09 by turns", func(m int) float64 { return []float64{0.07, 0.09}[m%2] }, false},
		{"0.05, 0.11, 0.08 by turns", func(m int) float64 { return []float64{0.05, 0.11, 0.08}[m%3] }, false},
		{"one reading a step above", func(m int) float64 {
			if m == 37 {
				return 0.0800001
			}
			return 0.08
		}, true},
		{"a step above in every reading", func(int) float64 { return 0.0800001 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{start}
			e := New(Options{Rules: loadRules(t), Clock: clk.Now})
			f := testFacility("F1")
			f.Devices = append(f.Devices, model.Device{ID: "hcho-1", Room: "r1", Kinds: []model.Kind{model.KindHCHO}})
			if err := e.AddFacility(f); err != nil {
				t.Fatal(err)
			}
			fired := false
			for m := range 60 {
				clk.t = start.Add(time.Duration(m) * time.Minute)
				for _, tr := range e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1", Readings: []model.Reading{
					{Device: "hcho-1", Room: "r1", Kind: model.KindHCHO, Time: clk.t, Value: tc.value(m)}}}) {
					if tr.Alert.Rule == "hcho_hourly" && tr.To == Firing {
						fired = true
					}
				}
			}
			// A tick re-judges the last mean: it must say the same.
			e.gateways(t, "F1", clk.t)
			for _, tr := range e.Tick(clk.t) {
				if tr.Alert.Rule == "hcho_hourly" && tr.To == Firing {
					fired = true
				}
			}
			if fired != tc.firing {
				t.Errorf("hcho_hourly fired %v, want %v", fired, tc.firing)
			}
		})
	}
}

// TestWindowMeanIsExact draws random readings with up to three decimals
// (what sensors send) and limits, often exactly the readings' mean, and
// checks the window's verdict "above the limit" against the exact rational
// mean.
func TestWindowMeanIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2026))
	cases := 2000
	if testing.Short() {
		cases = 200
	}
	decimal := func(milli int64) float64 { v, _ := new(big.Rat).SetFrac64(milli, 1000).Float64(); return v }
	atLimit := 0
	for i := range cases {
		w := newWindow(int64(time.Hour), 60)
		n := 1 + rng.IntN(600)
		var prev int64
		scale := []int64{100, 2_000, 60_000, 5_000_000}[rng.IntN(4)] // mg/m³ to ppm, in thousandths
		// Half the cases are built around a target mean: pairs of readings
		// either side of it (the hard case: the mean is exactly a decimal).
		target := int64(-1)
		if rng.IntN(2) == 0 {
			target = rng.Int64N(scale)
		}
		sum := new(big.Rat)
		for j := range n {
			milli := rng.Int64N(scale)
			if target >= 0 {
				d := rng.Int64N(min(target, scale-target) + 1)
				switch {
				case j == n-1 && n%2 == 1:
					milli = target
				case j%2 == 0:
					milli = target - d
				default:
					milli = 2*target - prev
				}
			}
			prev = milli
			if w.add(int64(j)*int64(6*time.Second), decimal(milli)) != added {
				t.Fatal("reading not added")
			}
			sum.Add(sum, new(big.Rat).SetFrac64(milli, 1000))
		}
		mean := new(big.Rat).Quo(sum, new(big.Rat).SetInt64(int64(n)))
		// The limit: the mean itself when it is a decimal of at most three
		// places (the hard case), or a random decimal near it.
		limitMilli := new(big.Rat).Mul(mean, big.NewRat(1000, 1))
		var lm int64
		if limitMilli.IsInt() && rng.IntN(2) == 0 {
			lm = limitMilli.Num().Int64()
			atLimit++
		} else {
			f, _ := limitMilli.Float64()
			lm = int64(math.Round(f)) + rng.Int64N(3) - 1
		}
		limit := new(big.Rat).SetFrac64(lm, 1000)
		l, _ := w.mean()
		if got, want := l.above(fixedLimit(decimal(lm))), mean.Cmp(limit) > 0; got != want {
			t.Fatalf("case %d: %d readings, mean %s, limit %s: above %v, want %v", i, n, mean.FloatString(9), limit.FloatString(3), got, want)
		}
		if got, want := l.below(fixedLimit(decimal(lm))), mean.Cmp(limit) < 0; got != want {
			t.Fatalf("case %d: %d readings, mean %s, limit %s: below %v, want %v", i, n, mean.FloatString(9), limit.FloatString(3), got, want)
		}
	}
	if atLimit < cases/20 {
		t.Fatalf("weak draw: only %d of %d limits exactly at the mean", atLimit, cases)
	}
}

// TestBandContainsAtTheLimit: the band's test, which the compliance rollup
// uses on InfluxDB's one-minute means, is the engine's: a mean at the
// limit that comes back a floating-point unit above it is in limits, a
// step above is not.
func TestBandContainsAtTheLimit(t *testing.T) {
	b := Band{Min: math.Inf(-1), Max: 0.08}
	var influxMean float64
	for range 60 {
		influxMean += 0.08
	}
	influxMean /= 60
	for _, c := range []struct {
		v    float64
		want bool
	}{
		{0.08, true}, {influxMean, true}, {math.Nextafter(0.08, 1), true}, {0.0800001, false}, {0.0799999, true},
		{math.NaN(), false}, {-40, true}, {1e6, false},
	} {
		if got := b.Contains(c.v); got != c.want {
			t.Errorf("Contains(%v) = %v, want %v", c.v, got, c.want)
		}
	}
	temp := Band{Min: 16, Max: 24}
	for _, c := range []struct {
		v    float64
		want bool
	}{{16, true}, {math.Nextafter(16, 0), true}, {15.9999999, false}, {24.0000001, false}, {24, true}} {
		if got := temp.Contains(c.v); got != c.want {
			t.Errorf("%v Contains(%v) = %v, want %v", temp, c.v, got, c.want)
		}
	}
	if !(Band{Min: math.Inf(-1), Max: math.Inf(1)}).Contains(1e9) {
		t.Error("an unbounded band contains everything")
	}
}

// TestWindowBucketBound: a bucket takes its share of the window's readings
// and refuses more (counted), so the fixed-point sum cannot overflow.
func TestWindowBucketBound(t *testing.T) {
	w := newWindow(int64(24*time.Hour), 1440) // the most buckets: the smallest share
	for i := range int64(w.limit) {
		if r := w.add(i*int64(time.Millisecond), 50000); r != added && r != unchecked {
			t.Fatalf("reading %d: %v", i, r)
		}
	}
	if r := w.add(int64(w.limit)*int64(time.Millisecond), 50000); r != full {
		t.Fatalf("a reading beyond the bucket's share: %v, want full", r)
	}
	l, _ := w.mean()
	if l.sum/l.n != fixed(50000) || l.v != 50000 {
		t.Fatalf("mean %v (%d/%d)", l.v, l.sum, l.n)
	}
	// The largest limit and the largest reading times the most readings a
	// window holds stay within int64.
	for _, v := range []float64{float64(fixedLimit(math.Inf(1))), float64(fixed(50000))} {
		if v*maxWindowReadings >= math.MaxInt64 {
			t.Fatalf("%v × %d overflows", v, maxWindowReadings)
		}
	}
}
