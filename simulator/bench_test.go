package simulator

import (
	"testing"
	"time"
)

// BenchmarkStep100Facilities measures one simulated minute of 100
// facilities, stepped every simulated second (60 steps per op).
func BenchmarkStep100Facilities(b *testing.B) {
	start := mustTime(b, "2026-11-26T09:00:00+08:00")
	e, err := newEngine(GenerateFacilities(100, ""), nil, 1, start)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	msgs := 0
	now := start
	for b.Loop() {
		for range 60 {
			out, _ := e.step(now)
			msgs += len(out)
			now = now.Add(time.Second)
		}
	}
	b.ReportMetric(float64(msgs)/float64(b.N), "msgs/op")
}
