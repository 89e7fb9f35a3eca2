package notify

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// discard is a notifier that accepts everything, so the benchmark measures
// the path and its state files, not a provider.
type discard struct{ n int }

func (d *discard) Notify(context.Context, Message) (bool, error) { d.n++; return false, nil }

func benchDispatcher(b *testing.B, clock *fakeClock, sms Notifier) *Dispatcher {
	b.Helper()
	cfg := testConfig(b.TempDir())
	cfg.Budget = BudgetConfig{PerDay: 1000, PerWindow: 1000}
	d, err := New(Options{Config: cfg, Notifiers: map[Channel]Notifier{ChannelSMS: sms}, Clock: clock,
		Registerer: prometheus.NewRegistry(), Rand: seeded(1), Phones: testPhones, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	return d
}

// BenchmarkHandleFiring: one firing alert per op, from Handle through
// group_wait, silence, dedup, budget, send and record. Each op is a new
// episode of the same alert, so the open set stays at one alert and the
// figure does not grow with b.N. It includes the state files' fsyncs (the
// outbox record of Handle, the notification log record of the delivery).
func BenchmarkHandleFiring(b *testing.B) {
	clock := &fakeClock{now: t0}
	sms := &discard{}
	d := benchDispatcher(b, clock, sms)
	ctx := context.Background()
	a := co2(StateFiring)
	b.ReportAllocs()
	for b.Loop() {
		clock.advance(time.Hour) // keeps the 24 h budget window short
		a.StartsAt, a.At = clock.Now(), clock.Now()
		if err := d.Handle(ctx, a); err != nil {
			b.Fatal(err)
		}
		clock.advance(DefaultGroupWait)
		if err := d.Tick(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if sms.n != b.N {
		b.Fatalf("sent %d of %d", sms.n, b.N)
	}
}

// BenchmarkHandleRepeat: the rule engine re-emitting an alert that is
// already open and notified, the common case on every evaluation.
func BenchmarkHandleRepeat(b *testing.B) {
	clock := &fakeClock{now: t0}
	d := benchDispatcher(b, clock, &discard{})
	ctx := context.Background()
	a := co2(StateFiring)
	if err := d.Handle(ctx, a); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Handle(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}
