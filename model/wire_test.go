package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"reflect"
	"testing"
	"time"
)

func sampleBatch() *Batch {
	t0 := time.UnixMilli(1764118800000) // 2025-11-26 09:00 Asia/Shanghai
	return &Batch{
		Gateway: "gw-1", Facility: "110105001-0001", Region: "110105001", First: 42, Sent: t0.Add(time.Second),
		Readings: []Reading{
			{Device: "th-1", Room: "infant-1", Kind: KindTemperature, Time: t0, Value: 23.4},
			{Device: "th-1", Room: "infant-1", Kind: KindHumidity, Time: t0, Value: 45},
			{Device: "aq-1", Room: "infant-1", Kind: KindCO2, Time: t0.Add(1500 * time.Millisecond), Value: 812},
			{Device: "aq-1", Room: "infant-1", Kind: KindHCHO, Time: t0.Add(-time.Hour), Value: 0.031},
			{Device: "door-1", Room: "", Kind: KindDoor, Time: t0, Value: 1},
			{Device: "cam-1", Room: "entrance", Kind: KindCameraLatency, Time: t0, Value: math.Pi},
			{Device: "x", Room: "", Kind: KindTemperature, Time: t0, Value: -12.125},
		},
		Gaps: []Gap{{From: t0.Add(-2 * time.Hour), To: t0.Add(-time.Hour), Count: 1234, Devices: []string{"th-1", "aq-9"}}},
	}
}

func TestBatchRoundTrip(t *testing.T) {
	in := sampleBatch()
	p := EncodeBatch(nil, in)
	var out Batch
	if err := DecodeBatch(p, &out); err != nil {
		t.Fatal(err)
	}
	in.Span = in.Count() // encoded as Covers()
	for i := range in.Readings {
		if !in.Readings[i].Time.Equal(out.Readings[i].Time) {
			t.Fatalf("reading %d time %v, want %v", i, out.Readings[i].Time, in.Readings[i].Time)
		}
		out.Readings[i].Time = in.Readings[i].Time
	}
	out.Sent, in.Sent = time.Time{}, time.Time{}
	for i := range in.Gaps {
		out.Gaps[i].From, out.Gaps[i].To = in.Gaps[i].From, in.Gaps[i].To
	}
	if !reflect.DeepEqual(in, &out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, *in)
	}
	perReading := float64(len(p)) / float64(len(in.Readings))
	t.Logf("%d bytes for %d readings and 1 gap (%.1f bytes per reading)", len(p), len(in.Readings), perReading)
}

func TestDecodeBatchRejects(t *testing.T) {
	good := EncodeBatch(nil, sampleBatch())
	flip := append([]byte(nil), good...)
	flip[10] ^= 0xFF
	cases := map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("XX"), good[2:]...),
		"version":   append([]byte{'C', 'W', 9}, good[3:]...),
		"checksum":  flip,
		"truncated": good[:len(good)-6],
		"oversize":  make([]byte, MaxBatchBytes+1),
		"short":     []byte("CW\x01\x01"),
	}
	for name, p := range cases {
		var b Batch
		if err := DecodeBatch(p, &b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
}

func TestValueEncoding(t *testing.T) {
	for _, v := range []float64{0, 1, -1, 23.4, 0.08, 1e-7, 812, 1e15, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), -0.5, 99.99} {
		p := AppendValue(nil, v)
		got, n := ReadValue(p)
		if n != len(p) || got != v {
			t.Errorf("value %v: got %v (%d of %d bytes)", v, got, n, len(p))
		}
	}
	if got, _ := ReadValue(AppendValue(nil, math.NaN())); !math.IsNaN(got) {
		t.Errorf("NaN did not survive: %v", got)
	}
	if n := len(AppendValue(nil, 23.4)); n != 3 {
		t.Errorf("23.4 takes %d bytes, want 3", n)
	}
}

func TestEntryRoundTrip(t *testing.T) {
	r := Reading{Device: "th-1", Room: "r1", Kind: KindTemperature, Time: time.UnixMilli(1764118800123), Value: 21.5}
	var got Reading
	if err := DecodeReadingEntry(AppendReadingEntry(nil, &r), &got); err != nil || !got.Time.Equal(r.Time) || got.Value != r.Value || got.Device != r.Device || got.Room != r.Room || got.Kind != r.Kind {
		t.Fatalf("reading entry: %+v %v", got, err)
	}
	g := Gap{From: time.UnixMilli(1), To: time.UnixMilli(2), Count: 3, Devices: []string{"a", "b"}}
	var gg Gap
	if err := DecodeGapEntry(AppendGapEntry(nil, &g), &gg); err != nil || gg.Count != 3 || len(gg.Devices) != 2 {
		t.Fatalf("gap entry: %+v %v", gg, err)
	}
	if !EntryIsState(AppendGapEntry(nil, &g)) || EntryIsState(AppendReadingEntry(nil, &r)) {
		t.Fatal("EntryIsState misclassifies")
	}
}

func TestTopics(t *testing.T) {
	top := Topic("110105001-0001", "gw-1", SuffixBatch)
	f, g, s, err := ParseTopic(top)
	if err != nil || f != "110105001-0001" || g != "gw-1" || s != SuffixBatch {
		t.Fatalf("ParseTopic(%q) = %q %q %q %v", top, f, g, s, err)
	}
	for _, bad := range []string{"cw/v2/a/b/batch", "cw/v1/a/batch", "cw/v1/a b/g/batch", "cw/v1/a/b/c/d"} {
		if _, _, _, err := ParseTopic(bad); err == nil {
			t.Errorf("ParseTopic(%q) accepted", bad)
		}
	}
}

func TestRegion(t *testing.T) {
	r, err := ParseRegion("110105001")
	if err != nil || r.Province() != "110000" || r.City() != "110100" || r.County() != "110105" || r.Street() != "110105001" {
		t.Fatalf("region %q: %v %s %s %s", r, err, r.Province(), r.City(), r.County())
	}
	for _, bad := range []string{"", "11010500", "1101050011", "11010500a"} {
		if _, err := ParseRegion(bad); err == nil {
			t.Errorf("ParseRegion(%q) accepted", bad)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(EncodeBatch(nil, sampleBatch()))
	f.Add([]byte("CW\x01\x01"))
	f.Fuzz(func(t *testing.T, p []byte) {
		var b Batch
		if err := DecodeBatch(p, &b); err != nil {
			return
		}
		// Whatever decodes must encode and decode to the same entries.
		var again Batch
		if err := DecodeBatch(EncodeBatch(nil, &b), &again); err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if len(again.Readings) != len(b.Readings) || len(again.Gaps) != len(b.Gaps) {
			t.Fatalf("re-encoded batch differs")
		}
	})
}

func FuzzDecodeEntry(f *testing.F) {
	r := Reading{Device: "d", Kind: KindCO2, Time: time.UnixMilli(5), Value: 800}
	f.Add(AppendReadingEntry(nil, &r))
	f.Add(AppendGapEntry(nil, &Gap{Count: 1, Devices: []string{"d"}}))
	f.Fuzz(func(t *testing.T, p []byte) {
		var r Reading
		var g Gap
		_ = DecodeReadingEntry(p, &r)
		_ = DecodeGapEntry(p, &g)
	})
}

func BenchmarkEncodeBatch(b *testing.B) {
	in := sampleBatch()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = EncodeBatch(buf[:0], in)
	}
}

func BenchmarkDecodeBatch(b *testing.B) {
	p := EncodeBatch(nil, sampleBatch())
	var out Batch
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeBatch(p, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWireSize reports the bytes per reading of a realistic batch: 50
// devices of a facility, temperature and humidity with one decimal, CO2 in
// whole ppm, one minute of readings every 10 s, in arrival order. The
// figure is quoted in docs/wire.md.
func TestWireSize(t *testing.T) {
	t0 := time.UnixMilli(1764118800000)
	b := &Batch{Gateway: "gw-110105001-0001-a", Facility: "110105001-0001", Region: "110105001", First: 123456789, Sent: t0.Add(time.Minute)}
	for s := 0; s < 6; s++ {
		for d := 0; d < 50; d++ {
			at := t0.Add(time.Duration(s)*10*time.Second + time.Duration(d)*37*time.Millisecond)
			dev := fmt.Sprintf("th-room-%02d", d)
			room := fmt.Sprintf("room-%02d", d/3)
			b.Readings = append(b.Readings,
				Reading{Device: dev, Room: room, Kind: KindTemperature, Time: at, Value: 21.3 + float64(d%7)/10},
				Reading{Device: dev, Room: room, Kind: KindHumidity, Time: at, Value: 45.5 + float64(s)},
				Reading{Device: dev, Room: room, Kind: KindCO2, Time: at, Value: float64(600 + 13*d)})
		}
	}
	p := EncodeBatch(nil, b)
	per := float64(len(p)) / float64(len(b.Readings))
	t.Logf("%d readings in %d bytes: %.2f bytes per reading", len(b.Readings), len(p), per)
	if per > 12 {
		t.Errorf("%.2f bytes per reading; the wire format should stay near 8", per)
	}
}

func TestBatchLanes(t *testing.T) {
	plain := EncodeBatch(nil, sampleBatch())
	if plain[3] != msgBatch {
		t.Fatalf("a live batch changed its layout: type %d", plain[3])
	}
	for _, tc := range []struct {
		lane     Lane
		draining bool
	}{{LaneLive, false}, {LaneLive, true}, {LaneBacklog, false}, {LaneBacklog, true}, {LaneUrgent, false}, {LaneUrgent, true}} {
		in := sampleBatch()
		in.Lane, in.Draining = tc.lane, tc.draining
		p := EncodeBatch(nil, in)
		var out Batch
		out.Lane, out.Draining = LaneUrgent, true // stale values must be reset
		if err := DecodeBatch(p, &out); err != nil {
			t.Fatalf("%v draining=%v: %v", tc.lane, tc.draining, err)
		}
		if out.Lane != tc.lane || out.Draining != tc.draining || len(out.Readings) != len(in.Readings) {
			t.Errorf("%v draining=%v: decoded %v draining=%v, %d readings", tc.lane, tc.draining, out.Lane, out.Draining, len(out.Readings))
		}
	}
}

func TestBatchUnknownFlagsRejected(t *testing.T) {
	in := sampleBatch()
	in.Lane = LaneBacklog
	p := EncodeBatch(nil, in)
	for _, flags := range []byte{0x03, 0x08, 0x80} {
		q := append([]byte(nil), p...)
		q[4] = flags
		body := q[:len(q)-4]
		binary.LittleEndian.PutUint32(q[len(q)-4:], crc32.Checksum(body, castagnoli))
		var out Batch
		if err := DecodeBatch(q, &out); !errors.Is(err, ErrCorrupt) {
			t.Errorf("flags %#02x: err %v, want ErrCorrupt", flags, err)
		}
	}
}
