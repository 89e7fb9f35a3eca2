package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// takeAndStore runs one message through the intake and waits until its
// readings are durable; it returns the verdict.
func takeAndStore(t *testing.T, in *intake, m *message, later func()) verdict {
	t.Helper()
	in.mu.Lock()
	v := in.take(m, later)
	errc := make(chan error, 1)
	in.store(func(err error) { errc <- err })
	in.mu.Unlock()
	if err := <-errc; err != nil {
		t.Fatalf("store: %v", err)
	}
	return v
}

func msg(topic string, payload []byte, at time.Time, pid uint16, dup bool) *message {
	return &message{topic: []byte(topic), payload: payload, received: at, qos: 1, pid: pid, dup: dup}
}

func runSpool(t *testing.T, g *Gateway) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.spool.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; g.Close() })
}

// A message the local broker delivers again (DUP, same packet ID) after the
// gateway stored it is recognised and not stored again, also by the next
// gateway on the same spool (the memory is rebuilt from its tail). A
// different packet ID, or the same payload without DUP (the temperature
// did not change), is a new reading.
func TestRedeliveryIsNotStoredAgain(t *testing.T) {
	r := newRig(t, 2, 0)
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.Local)
	topic, payload := z2m(0, 21.5)

	g1, _ := r.gateway(Options{})
	runSpool(t, g1)
	if v := takeAndStore(t, g1.local, msg(topic, payload, t0, 42, false), nil); v != verdictKept {
		t.Fatalf("first delivery: verdict %v", v)
	}
	if v := takeAndStore(t, g1.local, msg(topic, payload, t0.Add(time.Second), 42, true), nil); v != verdictDuplicate {
		t.Fatalf("redelivery to the same gateway: verdict %v, want duplicate", v)
	}
	g1.Close()

	g2, reg := r.gateway(Options{}) // a restart: memory rebuilt from the spool
	runSpool(t, g2)
	cases := []struct {
		name string
		m    *message
		want verdict
	}{
		{"redelivery after a restart", msg(topic, payload, t0.Add(time.Minute), 42, true), verdictDuplicate},
		{"another packet ID", msg(topic, payload, t0.Add(time.Minute), 43, true), verdictKept},
		{"same payload, not a redelivery", msg(topic, payload, t0.Add(time.Minute), 42, false), verdictKept},
		{"other device, same packet ID", msg(func() string { s, _ := z2m(1, 21.5); return s }(), payload, t0.Add(time.Minute), 42, true), verdictKept},
	}
	for _, c := range cases {
		if v := takeAndStore(t, g2.local, c.m, nil); v != c.want {
			t.Errorf("%s: verdict %v, want %v", c.name, v, c.want)
		}
	}
	g2.Close()
	readings, _ := spoolReadings(t, r.cfg.Spool.Dir)
	if len(readings) != 2*4 { // the first and three new messages, temperature and linkquality each
		t.Errorf("%d readings in the spool, want 8", len(readings))
	}
	if n := testenv.Metric(t, reg, "cw_gateway_redeliveries_total", "outcome", redeliveryDuplicate); n != 1 {
		t.Errorf("redeliveries{duplicate} %v, want 1", n)
	}
}

// A redelivery that arrives while its original waits for the group commit
// is not stored either: it is acknowledged once the original is durable,
// and not at all if the original's append fails.
func TestRedeliveryOfAMessageNotYetDurable(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.Local)
	topic, payload := z2m(0, 21.5)
	// pending takes the original and its redelivery before the spool runs.
	pending := func(g *Gateway, ack func()) chan error {
		stored := make(chan error, 1)
		in := g.local
		in.mu.Lock()
		defer in.mu.Unlock()
		in.take(msg(topic, payload, t0, 7, false), nil)
		in.store(func(err error) { stored <- err })
		if v := in.take(msg(topic, payload, t0.Add(time.Second), 7, true), ack); v != verdictWaiting {
			t.Fatalf("verdict %v, want waiting", v)
		}
		return stored
	}

	g, _ := newRig(t, 1, 0).gateway(Options{})
	acked := make(chan struct{})
	stored := pending(g, func() { close(acked) })
	select {
	case <-acked:
		t.Fatal("acknowledged before the original is durable")
	default:
	}
	runSpool(t, g) // the spool commits what was queued before it ran
	if err := <-stored; err != nil {
		t.Fatal(err)
	}
	<-acked

	// The original fails (the spool closes before committing it): the
	// redelivery stays unacknowledged, so the broker sends it again.
	g2, _ := newRig(t, 1, 0).gateway(Options{})
	stored = pending(g2, func() { t.Error("a redelivery acknowledged although its original was not stored") })
	g2.Close()
	if err := <-stored; !errors.Is(err, spool.ErrClosed) {
		t.Fatalf("append to a closed spool: %v", err)
	}
}
