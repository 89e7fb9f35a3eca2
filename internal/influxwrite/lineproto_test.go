package influxwrite

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestEscapers(t *testing.T) {
	cases := []struct {
		in, measurement, tag, str string
	}{
		{"plain", "plain", "plain", `"plain"`},
		{"", "", "", `""`},
		{"a,b=c d", `a\,b=c\ d`, `a\,b\=c\ d`, `"a,b=c d"`},
		{"x\ny", "x y", "x_y", `"x\ny"`},
		{"x\ry", "x y", "x_y", "\"x\ry\""},
		{`q"uo\te`, `q"uo\te`, `q"uo\te`, `"q\"uo\\te"`},
		{"温度-1", "温度-1", "温度-1", `"温度-1"`},
	}
	for _, c := range cases {
		if got := string(AppendMeasurement([]byte("m:"), c.in)); got != "m:"+c.measurement {
			t.Errorf("measurement %q: got %q want %q", c.in, got, "m:"+c.measurement)
		}
		if got := string(AppendTagValue([]byte("t:"), c.in)); got != "t:"+c.tag {
			t.Errorf("tag %q: got %q want %q", c.in, got, "t:"+c.tag)
		}
		if got := string(AppendStringField([]byte("s:"), c.in)); got != "s:"+c.str {
			t.Errorf("string %q: got %q want %q", c.in, got, "s:"+c.str)
		}
	}
}

// TestAppendFloatMatchesStrconv: the fast path must write exactly what
// strconv writes, on the edges of its bounds and on sensor-like values.
func TestAppendFloatMatchesStrconv(t *testing.T) {
	check := func(v float64) {
		t.Helper()
		want := strconv.AppendFloat([]byte("v="), v, 'f', -1, 64)
		if got := AppendFloat([]byte("v="), v); string(got) != string(want) {
			t.Fatalf("AppendFloat(%v) = %q, want %q", v, got, want)
		}
	}
	for _, v := range []float64{
		0, math.Copysign(0, -1), 1, -1, 0.1, 0.2, 0.3, 0.05, -0.05, 0.001, -0.001, 0.0005, 0.0015, 1e-7, 1e-300,
		21.5, -21.5, 23.45, 99.999, 100, 800, 1234.567, 1234.5675, 5000.1, 36500,
		fastFloatMax - 1, fastFloatMax - 0.001, fastFloatMax, fastFloatMax + 0.5, -fastFloatMax + 0.125,
		1 << 53, 1<<53 + 2, 1e21, 1e300, math.MaxFloat64, math.SmallestNonzeroFloat64,
		math.Inf(1), math.Inf(-1), math.NaN(), math.Nextafter(0.1, 1), math.Nextafter(21.5, 0),
	} {
		check(v)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		scale := []float64{1, 10, 100, 1000, 10000, 1e6}[i%6]
		check(float64(rng.Int64N(2_000_000_000_000)-1_000_000_000_000) / scale) // decimals as sensors send them
		check(math.Float64frombits(rng.Uint64()))                               // any bit pattern
		check((rng.Float64() - 0.5) * float64(uint64(1)<<(i%40)))
	}
}

func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, 21.5, -0.05, 1e21, 0.1 + 0.2} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		want := strconv.AppendFloat(nil, v, 'f', -1, 64)
		if got := AppendFloat(nil, v); string(got) != string(want) {
			t.Fatalf("AppendFloat(%v) = %q, want %q", v, got, want)
		}
	})
}

func BenchmarkAppendFloat(b *testing.B) {
	values := []float64{21.5, 23.45, 800, 0.05, 57, 1.23456789}
	dst := make([]byte, 0, 64)
	for b.Loop() {
		for _, v := range values {
			dst = AppendFloat(dst[:0], v)
		}
	}
}
