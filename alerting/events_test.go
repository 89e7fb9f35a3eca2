package alerting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// pickySink stores what it is given, refuses a write holding a line with
// "refuse" in it as bad data, and fails the first transient writes.
type pickySink struct {
	mu        sync.Mutex
	transient int // writes to fail with a network error first
	stored    []string
	calls     int
}

func (s *pickySink) Write(_ context.Context, lines []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.transient > 0 {
		s.transient--
		return errors.New("connection refused")
	}
	if bytes.Contains(lines, []byte("refuse")) {
		return fmt.Errorf("%w: partial write: field type conflict", influxwrite.ErrBadData)
	}
	for _, l := range strings.SplitAfter(string(lines), "\n") {
		if l != "" {
			s.stored = append(s.stored, l)
		}
	}
	return nil
}

func transition(fp string, at time.Time) rules.Transition {
	return rules.Transition{To: rules.Firing, At: at, Alert: rules.Alert{Fingerprint: fp, Rule: "smoke_alarm",
		Facility: "110105001-0001", Room: "r1", Device: "smoke-1", Severity: rules.Critical, Value: 1, Limit: 0.5, FiredAt: at}}
}

// TestEventWriterDropsOnlyRefusedLines: InfluxDB refuses two of 300 alert
// events as bad data; the writer used to retry the whole write forever, so
// no alert event reached Grafana again. Now the two are counted, logged and
// dropped, the 298 others are written, each once, and a transient failure
// is retried.
func TestEventWriterDropsOnlyRefusedLines(t *testing.T) {
	sink := &pickySink{transient: 2}
	reg := prometheus.NewRegistry()
	e := newEvents(influxwrite.Config{}, sink, slog.New(slog.DiscardHandler), reg)
	e.after = func(time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		c <- time.Time{}
		return c
	}
	at := time.UnixMilli(1764118800000)
	want := map[string]bool{}
	for i := range 300 {
		fp := fmt.Sprintf("fp%03d", i)
		if i == 17 || i == 240 {
			fp = "refuse" + fp
		} else {
			want[fp] = true
		}
		e.add(transition(fp, at.Add(time.Duration(i)*time.Millisecond)), "110105001")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.run(ctx) }()
	for testutil.ToFloat64(e.written)+testutil.ToFloat64(e.refused) < 300 {
		time.Sleep(10 * time.Millisecond) // polls the counters; bounded by the test's timeout
	}
	cancel()
	<-done
	if got := testutil.ToFloat64(e.refused); got != 2 {
		t.Errorf("refused %v, want 2", got)
	}
	if got := testutil.ToFloat64(e.written); got != 298 {
		t.Errorf("written %v, want 298", got)
	}
	if got := testutil.ToFloat64(e.retries); got != 2 {
		t.Errorf("retries %v, want 2", got)
	}
	seen := map[string]int{}
	for _, l := range sink.stored {
		i := strings.Index(l, `fingerprint="`)
		seen[l[i+13:i+18]]++
	}
	for fp := range want {
		if seen[fp] != 1 {
			t.Errorf("%s stored %d times", fp, seen[fp])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("stored %d events, want %d", len(seen), len(want))
	}
}

// TestEventWriterOnInfluxd: against a real influxd 1.8, the writer creates
// the database when events.influx.create_database says so, and waits until
// it is listed before writing; an event InfluxDB refuses (a point beyond
// the retention policy) is dropped and the others are written.
func TestEventWriterOnInfluxd(t *testing.T) {
	inf := testenv.Influx(t)
	ctx := context.Background()
	cfg := influxwrite.DefaultConfig()
	cfg.URL, cfg.Database, cfg.CreateDatabase, cfg.RetentionPolicy = inf.URL(), "cw_events", true, ""
	reg := prometheus.NewRegistry()
	e := newEvents(cfg, nil, slog.New(slog.DiscardHandler), reg)
	defer e.close()
	now := time.Now()
	for i := range 20 {
		e.add(transition(fmt.Sprintf("new%02d", i), now.Add(-time.Duration(i)*time.Second)), "110105001")
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.run(runCtx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "20 events written", func() bool { return testutil.ToFloat64(e.written) >= 20 })
	if n, err := inf.Count(ctx, "cw_events", "SELECT count(fingerprint) FROM alert_event"); err != nil || n != 20 {
		t.Fatalf("stored %d events (%v), want 20", n, err)
	}

	// A second database whose retention keeps one hour: an event three
	// hours old is refused, the two recent ones are stored.
	if _, err := inf.Client("").Query(ctx, `CREATE DATABASE "cw_short" WITH DURATION 1h`); err != nil {
		t.Fatal(err)
	}
	cfg.Database = "cw_short"
	s := newEvents(cfg, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	defer s.close()
	s.add(transition("recent1", now), "110105001")
	s.add(transition("old", now.Add(-3*time.Hour)), "110105001")
	s.add(transition("recent2", now.Add(-time.Second)), "110105001")
	sctx, scancel := context.WithCancel(ctx)
	sdone := make(chan struct{})
	go func() { defer close(sdone); s.run(sctx) }()
	defer func() { scancel(); <-sdone }()
	waitFor(t, "three events handled", func() bool { return testutil.ToFloat64(s.written)+testutil.ToFloat64(s.refused) >= 3 })
	if got := testutil.ToFloat64(s.refused); got != 1 {
		t.Errorf("refused %v, want 1 (the event beyond the retention policy)", got)
	}
	if n, err := inf.Count(ctx, "cw_short", "SELECT count(fingerprint) FROM alert_event"); err != nil || n != 2 {
		t.Fatalf("stored %d events (%v), want 2", n, err)
	}
}

// waitFor polls cond until it holds; the test's own timeout bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
