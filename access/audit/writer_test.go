package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"github.com/cradlewatch/cradlewatch/internal/recordlog"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var county = access.Principal{Kind: access.KindPerson, ID: "acc-7", Name: "li.county", Role: access.RoleCounty,
	Region: model.MustRegionCode("110105")}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func newWriter(t *testing.T, dir string, sink Sink, c *clock, key ed25519.PrivateKey) (*Writer, *prometheus.Registry, *logBuf) {
	t.Helper()
	reg := prometheus.NewRegistry()
	var logs logBuf
	w, err := NewWriter(WriterOptions{Chain: "alerting-0", Dir: dir, Sink: sink, SigningKey: key, Now: c.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg, MaxBuffer: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, reg, &logs
}

func ack(i int) Event {
	return Event{Actor: county, Action: ActionAcknowledge, Facility: "fac-a", Region: "110105001",
		Subject: "fp-" + string(rune('a'+i%26)), Detail: map[string]any{"via": "console", "n": i}}
}

func TestWriterBuffersWhileTheDatabaseIsAwayAndCatchesUp(t *testing.T) {
	dir := t.TempDir()
	sink := newMemSink()
	c := &clock{t: t0}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	w, reg, logs := newWriter(t, dir, sink, c, priv)
	ctx := context.Background()
	for i := range 3 {
		if _, err := w.Append(ack(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Anchor(ctx); err != nil {
		t.Fatal(err)
	}
	sink.setDown(true)
	for i := 3; i < 10; i++ {
		c.Advance(time.Second)
		if _, err := w.Append(ack(i)); err != nil {
			t.Fatalf("append while the database is away: %v", err)
		}
	}
	for range 3 {
		if err := w.Flush(ctx); !errors.Is(err, errDown) {
			t.Fatalf("flush while down: %v", err)
		}
	}
	if got := testutil.ToFloat64(w.m.flushFailures); got != 3 {
		t.Fatalf("flush failures %v", got)
	}
	if n := strings.Count(logs.String(), "audit database unavailable"); n != 1 {
		t.Fatalf("outage logged %d times", n)
	}
	// A restart while the database is still away continues the chain from
	// the local buffer.
	w.Close()
	w2, _, _ := newWriter(t, dir, sink, c, priv)
	// All ten are buffered: with the database away the writer cannot know
	// that the first three were stored; they are sent again and skipped.
	if h := w2.Head(); h.Seq != 10 || w2.Buffered() != 10 {
		t.Fatalf("after restart head #%d, buffered %d", h.Seq, w2.Buffered())
	}
	if _, err := w2.Append(ack(10)); err != nil {
		t.Fatal(err)
	}
	sink.setDown(false)
	if err := w2.Anchor(ctx); err != nil {
		t.Fatal(err)
	}
	got := sink.chain("alerting-0")
	if len(got) != 11 || w2.Buffered() != 0 {
		t.Fatalf("stored %d, buffered %d", len(got), w2.Buffered())
	}
	rep, err := Verify(ctx, sink, []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems())
	}
	if rep.Chains[0].LastAnchor != 11 || rep.Chains[0].Anchors != 2 {
		t.Fatalf("anchors %+v", rep.Chains[0])
	}
	r := got[4]
	if r.Actor != "person:acc-7" || r.ActorName != "li.county" || r.ActorRole != "county 110105" || r.Facility != "fac-a" {
		t.Fatalf("record %+v", r)
	}
	_ = reg
}

func TestWriterSetsAsideACorruptBufferedRecordAndKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	sink := newMemSink()
	sink.setDown(true)
	c := &clock{t: t0}
	w, _, _ := newWriter(t, dir, sink, c, nil)
	for i := range 5 {
		if _, err := w.Append(ack(i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	path := filepath.Join(dir, "alerting-0.spool")
	b, _ := os.ReadFile(path)
	// A flipped record in the middle (the third one's facility), and a
	// torn tail: an append cut short by a crash.
	third := bytes.Index(b, []byte(`"seq":3`))
	at := third + bytes.Index(b[third:], []byte("fac-a"))
	if third < 0 || at < third {
		t.Fatalf("no third record in the buffer")
	}
	b[at+4] = 'b'
	torn := append(b, 0x40, 0, 0, 0, 0xde, 0xad)
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	w2, reg, logs := newWriter(t, dir, sink, c, nil)
	// 4 good records, then one audit.spool_quarantine record per bad region.
	if got := w2.Buffered(); got != 4+2 {
		t.Fatalf("buffered %d", got)
	}
	q, err := recordlog.ReadQuarantine(path)
	if err != nil || len(q) != 2 || !bytes.Contains(q[0].Bytes, []byte("fac-b")) || q[1].Kind != recordlog.Torn {
		t.Fatalf("quarantine file: %v %+v", err, q)
	}
	if testutil.ToFloat64(w2.m.spoolBad.WithLabelValues("corrupt")) != 1 || testutil.ToFloat64(w2.m.spoolBad.WithLabelValues("torn")) != 1 {
		t.Fatal("bad records not counted")
	}
	if !strings.Contains(logs.String(), "bad record set aside") {
		t.Fatal("not logged")
	}
	sink.setDown(false)
	if err := w2.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	stored := sink.chain("alerting-0")
	var seqs []int64
	notices := 0
	for _, r := range stored {
		seqs = append(seqs, r.Seq)
		if r.Action == ActionSpoolQuarantine {
			notices++
			if r.Actor != "service:alerting-0" {
				t.Fatalf("notice actor %s", r.Actor)
			}
		}
	}
	if notices != 2 || len(stored) != 6 {
		t.Fatalf("stored seqs %v, %d notices", seqs, notices)
	}
	// The lost record is a gap that Verify names; the rest of the chain holds.
	rep, err := Verify(context.Background(), sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	ps := rep.Problems()
	if len(ps) != 1 || ps[0].Kind != ProblemMissing || ps[0].Seq != 3 {
		t.Fatalf("problems %v", ps)
	}
	_ = reg
}

func TestWriterBufferFullNeverBlocks(t *testing.T) {
	dir := t.TempDir()
	sink := newMemSink()
	sink.setDown(true)
	c := &clock{t: t0}
	reg := prometheus.NewRegistry()
	var logs logBuf
	w, err := NewWriter(WriterOptions{Chain: "alerting-1", Dir: dir, Sink: sink, Now: c.Now, MaxBuffer: 4096,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	full := 0
	for i := range 100 {
		if _, err := w.Append(ack(i)); errors.Is(err, ErrBufferFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if full == 0 || full == 100 {
		t.Fatalf("%d of 100 refused", full)
	}
	if got := testutil.ToFloat64(w.m.dropped.WithLabelValues("buffer_full")); got != float64(full) {
		t.Fatalf("dropped %v, refused %d", got, full)
	}
	if n := strings.Count(logs.String(), "audit buffer full"); n != 1 {
		t.Fatalf("logged %d times", n)
	}
	sink.setDown(false)
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(ack(0)); err != nil {
		t.Fatalf("after the database came back: %v", err)
	}
}

func TestWriterRefusesADetailThatIsNotAnObject(t *testing.T) {
	w, _, _ := newWriter(t, t.TempDir(), newMemSink(), &clock{t: t0}, nil)
	if _, err := w.Append(Event{Actor: county, Action: "x", Detail: []int{1}}); err == nil {
		t.Fatal("array detail accepted")
	}
	if _, err := NewWriter(WriterOptions{Chain: "../etc", Dir: t.TempDir(), Sink: newMemSink()}); err == nil {
		t.Fatal("path in chain name accepted")
	}
}

func TestWriterRunStoresAndAnchorsInTheBackground(t *testing.T) {
	sink := newMemSink()
	c := &clock{t: t0}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	w, _, _ := newWriter(t, t.TempDir(), sink, c, priv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	for i := range 20 {
		if _, err := w.Append(ack(i)); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(sink.chain("alerting-0")); n != 20 {
		t.Fatalf("stored %d", n)
	}
	as, _ := sink.Anchors(context.Background(), "alerting-0")
	if len(as) == 0 || as[len(as)-1].Seq != 20 {
		t.Fatalf("anchors %+v", as)
	}
}
