package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

var t0 = time.UnixMilli(1764118800000)

func newTestIngester() *ingester {
	cfg := DefaultConfig().Ingest
	cfg.MaxAge = 24 * time.Hour
	return &ingester{cfg: cfg, m: newMetrics(prometheus.NewRegistry()), now: func() time.Time { return t0 },
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), reg: testRegistry(), regions: map[model.Region]*regionTags{}}
}

func batchMsg(topicFacility string, b *model.Batch, acked *int) message {
	return message{
		topic:   model.Topic(topicFacility, b.Gateway, model.SuffixBatch),
		payload: model.EncodeBatch(nil, b),
		ack:     func() { *acked++ },
	}
}

func TestIngestLines(t *testing.T) {
	in := newTestIngester()
	b := &model.Batch{Gateway: "gw-1", Facility: "110105001-0001", Region: "110105001", First: 10, Sent: t0,
		Readings: []model.Reading{
			{Device: "th-1", Room: "infant-1", Kind: model.KindTemperature, Time: t0, Value: 23.4},
			{Device: "door-1", Kind: model.KindDoor, Time: t0.Add(time.Second), Value: 1},
		},
		Gaps: []model.Gap{{From: t0.Add(-time.Hour), To: t0.Add(-time.Minute), Count: 7, Devices: []string{"th-1", "th-2"}}},
	}
	var w work
	acked := 0
	in.add(&w, batchMsg(b.Facility, b, &acked))
	want := `temperature,city=110100,county=110105,device=th-1,facility=110105001-0001,province=110000,room=infant-1,street=110105001 value=23.4 1764118800000
door,city=110100,county=110105,device=door-1,facility=110105001-0001,province=110000,street=110105001 value=1 1764118801000
gap,city=110100,county=110105,facility=110105001-0001,gateway=gw-1,province=110000,street=110105001 count=7,from_ms=1764115200000,to_ms=1764118740000,devices="th-1,th-2" 1764115200000
`
	if got := string(w.buf); got != want {
		t.Fatalf("lines:\n%s\nwant:\n%s", got, want)
	}
	if len(w.pending) != 1 || w.pending[0].ack.First != 10 || w.pending[0].ack.Count != 3 || acked != 0 {
		t.Fatalf("pending %+v acked %d", w.pending, acked)
	}
}

func TestIngestRejects(t *testing.T) {
	good := model.Reading{Device: "d", Kind: model.KindCO2, Time: t0, Value: 800}
	cases := []struct {
		name   string
		topic  string // facility in the topic
		mutate func(b *model.Batch)
		reason string
		n      int
	}{
		{"other facility", "110105001-0002", func(b *model.Batch) {}, model.RejectFacilityMismatch, 1},
		{"bad device id", "", func(b *model.Batch) { b.Readings[0].Device = "a,b=c d" }, model.RejectBadID, 1},
		{"newline in room", "", func(b *model.Batch) { b.Readings[0].Room = "r\nco2,facility=x value=1" }, model.RejectBadID, 1},
		{"unknown kind", "", func(b *model.Batch) { b.Readings[0].Kind = 200 }, model.RejectBadKind, 1},
		{"negative co2", "", func(b *model.Batch) { b.Readings[0].Value = -5 }, model.RejectOutOfRange, 1},
		{"future", "", func(b *model.Batch) { b.Readings[0].Time = t0.Add(time.Hour) }, model.RejectFuture, 1},
		{"too old", "", func(b *model.Batch) { b.Readings[0].Time = t0.Add(-48 * time.Hour) }, model.RejectTooOld, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := newTestIngester()
			b := &model.Batch{Gateway: "gw-1", Facility: "110105001-0001", Region: "110105001", First: 1, Sent: t0,
				Readings: []model.Reading{good}}
			c.mutate(b)
			topic := c.topic
			if topic == "" {
				topic = b.Facility
			}
			var w work
			acked := 0
			in.add(&w, batchMsg(topic, b, &acked))
			if w.lines() != 0 {
				t.Fatalf("wrote %q", w.buf)
			}
			if got := testutil.ToFloat64(in.m.rejected.WithLabelValues(c.reason)); int(got) != c.n {
				t.Fatalf("rejected{%s} = %v, want %d", c.reason, got, c.n)
			}
			if len(w.pending) != 1 {
				t.Fatalf("the batch must still be acknowledged to its gateway: pending %d", len(w.pending))
			}
		})
	}
}

func TestIngestCorruptBatchIsReleasedAtTheBroker(t *testing.T) {
	in := newTestIngester()
	var w work
	acked := 0
	in.add(&w, message{topic: model.Topic("f-1", "gw-1", model.SuffixBatch), payload: []byte("not a batch"), ack: func() { acked++ }})
	if acked != 1 || len(w.pending) != 0 {
		t.Fatalf("acked %d pending %d", acked, len(w.pending))
	}
	if got := testutil.ToFloat64(in.m.batches.WithLabelValues(model.RejectCorrupt)); got != 1 {
		t.Fatalf("corrupt batches %v", got)
	}
}

func TestEscaping(t *testing.T) {
	f := func(in, wantTag, wantString string) {
		t.Helper()
		if got := string(influxwrite.AppendTagValue(nil, in)); got != wantTag {
			t.Errorf("tag %q: got %q want %q", in, got, wantTag)
		}
		if got := string(influxwrite.AppendStringField(nil, in)); got != wantString {
			t.Errorf("string %q: got %q want %q", in, got, wantString)
		}
	}
	f("plain", "plain", `"plain"`)
	f("a,b=c d", `a\,b\=c\ d`, `"a,b=c d"`)
	f("x\ny", "x_y", `"x\ny"`)
	f(`q"uo\te`, `q"uo\te`, `"q\"uo\\te"`)
}

// fakeSink refuses any write containing a line with "bad", and fails the
// first failures writes with a transient error.
type fakeSink struct {
	failures int
	writes   []string
}

func (s *fakeSink) Write(_ context.Context, lines []byte) error {
	if s.failures > 0 {
		s.failures--
		return errors.New("connection refused")
	}
	if strings.Contains(string(lines), "bad") {
		return fmt.Errorf("%w: partial write", influxwrite.ErrBadData)
	}
	s.writes = append(s.writes, string(lines))
	return nil
}

func TestWriterRetriesAndBisects(t *testing.T) {
	var w work
	for i := 0; i < 8; i++ {
		w.offs = append(w.offs, len(w.buf))
		name := "ok"
		if i == 2 || i == 5 {
			name = "bad"
		}
		w.buf = fmt.Appendf(w.buf, "m,t=%s v=%d %d\n", name, i, i)
	}
	sink := &fakeSink{failures: 3}
	slept := 0
	wr := &writer{sink: sink, cfg: DefaultConfig().Ingest, m: newMetrics(prometheus.NewRegistry()),
		log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		sleep: func(context.Context, time.Duration) error { slept++; return nil }}
	refused, err := wr.store(context.Background(), &w)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(refused) != "[2 5]" {
		t.Fatalf("refused %v, want [2 5]", refused)
	}
	stored := strings.Join(sink.writes, "")
	for i := 0; i < 8; i++ {
		if i == 2 || i == 5 {
			continue
		}
		if !strings.Contains(stored, fmt.Sprintf("v=%d ", i)) {
			t.Errorf("line %d never stored", i)
		}
	}
	if slept != 3 || testutil.ToFloat64(wr.m.writeRetries) != 3 {
		t.Fatalf("slept %d retries %v, want 3", slept, testutil.ToFloat64(wr.m.writeRetries))
	}
}

func TestWriterStopsWithContext(t *testing.T) {
	var w work
	w.offs = []int{0}
	w.buf = []byte("m v=1 1\n")
	ctx, cancel := context.WithCancel(context.Background())
	wr := &writer{sink: &fakeSink{failures: 1 << 30}, cfg: DefaultConfig().Ingest, m: newMetrics(prometheus.NewRegistry()),
		log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		sleep: func(context.Context, time.Duration) error { cancel(); return ctx.Err() }}
	if _, err := wr.store(ctx, &w); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	c := DefaultConfig()
	c.Influx.Version = 3
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "influx.version") {
		t.Fatalf("err %v", err)
	}
	c = DefaultConfig()
	c.Ingest.RetryMax = time.Millisecond
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "ingest.retry_max") {
		t.Fatalf("err %v", err)
	}
}

func BenchmarkIngest(b *testing.B) {
	in := newTestIngester()
	batch := &model.Batch{Gateway: "gw-1", Facility: "110105001-0001", Region: "110105001", First: 1, Sent: t0}
	for i := 0; i < 1000; i++ {
		batch.Readings = append(batch.Readings, model.Reading{Device: fmt.Sprintf("th-%d", i%50), Room: "room-1",
			Kind: model.KindTemperature, Time: t0.Add(time.Duration(i) * time.Millisecond), Value: 21.5})
	}
	msg := batchMsg(batch.Facility, batch, new(int))
	var w work
	b.ReportAllocs()
	b.SetBytes(int64(len(msg.payload)))
	cpu0 := testenv.ProcessCPU()
	for b.Loop() {
		w.reset()
		in.add(&w, msg)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/reading")
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Nanoseconds())/float64(b.N*1000), "cpu-ns/reading")
}
