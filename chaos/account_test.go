package chaos

import (
	"testing"
	"time"
)

// An untimed reading on the Mosquitto layout dated after its PUBACK is
// explained only by an outage of the gateway's local link between the
// PUBACK and the time it was dated.
func TestExplainedByDown(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	at := func(s float64) time.Time { return base.Add(time.Duration(s * float64(time.Second))) }
	down := []interval{{Start: at(10), End: at(15)}}
	tests := []struct {
		name      string
		ack, date float64
		want      bool
	}{
		{"waited through the outage", 9, 16, true},
		{"acknowledged during it", 12, 16, true},
		{"dated during it (a restart's first reads)", 8, 14, true},
		{"late without an outage", 20, 25, false},
		{"before the outage", 1, 5, false},
	}
	for _, tt := range tests {
		if got := explainedByDown(down, at(tt.ack).UnixNano(), at(tt.date).UnixMilli()); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCounts(t *testing.T) {
	var c Counts
	for _, o := range []readingOutcome{
		{accepted: true, stored: true},
		{accepted: true, lost: true},
		{accepted: true, stored: true, duplicated: true, redated: true},
		{stored: true},
		{accepted: true, stored: true, delivered: true},
	} {
		c.add(o)
	}
	want := Counts{Published: 5, Accepted: 4, Stored: 4, Lost: 1, Duplicated: 1, Redated: 1, Delivered: 1}
	if c != want {
		t.Fatalf("%+v, want %+v", c, want)
	}
}
