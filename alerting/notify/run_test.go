package notify

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRunIsDrivenByEvents: Run sends a critical alert as soon as Handle
// returns, with no time passing (no polling tick); a warning when its
// group's wait is over; the street step at its time.
func TestRunIsDrivenByEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sms, dt := &recorder{}, &recorder{}
		d, err := New(Options{Config: testConfig(t.TempDir()), Registerer: prometheus.NewRegistry(), Rand: seeded(1), Phones: testPhones,
			Notifiers: map[Channel]Notifier{ChannelSMS: sms, ChannelDingTalk: dt}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		start := time.Now()

		a := co2(StateFiring)
		a.StartsAt, a.At = start, start
		if err := d.Handle(ctx, a); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if sms.count() != 1 || time.Since(start) != 0 {
			t.Fatalf("critical: %d SMS after %s", sms.count(), time.Since(start))
		}

		w := co2w(StateFiring)
		w.Fingerprint, w.StartsAt, w.At = "fp-w", start, start
		if err := d.Handle(ctx, w); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if sms.count() != 1 {
			t.Fatal("warning sent before its group's wait")
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if sms.count() != 2 {
			t.Fatalf("warning not sent at its group's deadline: %d SMS", sms.count())
		}

		time.Sleep(10*time.Minute - 30*time.Second)
		synctest.Wait()
		if got := strings.Join(recipients(sms.sent), ","); got != "op1/sms,op1/sms,street/sms" {
			t.Fatalf("at 10 min: %s", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestRunWaitsForAnnouncementWithoutSpinning: a resolution due while its
// firing notice waits for a retry neither spins the sender (synctest would
// never settle) nor overtakes the firing.
func TestRunWaitsForAnnouncementWithoutSpinning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		cfg.Directory.Operators["fac-1"] = []Contact{{ID: "op1", Phone: "13812341234"}}
		cfg.Retry = RetryConfig{MaxAttempts: 5, InitialBackoff: 2 * time.Minute, MaxBackoff: 2 * time.Minute}
		sms := &recorder{script: []error{&ProviderError{Kind: Transient, Status: 503}}}
		clock := &countingClock{}
		d, err := New(Options{Config: cfg, Registerer: prometheus.NewRegistry(), Rand: seeded(1), Phones: testPhones, Clock: clock,
			Notifiers: map[Channel]Notifier{ChannelSMS: sms}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		start := time.Now()
		w := co2w(StateFiring)
		w.StartsAt, w.At = start, start
		if err := d.Handle(ctx, w); err != nil {
			t.Fatal(err)
		}
		time.Sleep(31 * time.Second) // the firing notice failed; its retry is 1-2 minutes away
		synctest.Wait()
		res := w
		res.State, res.At = StateResolved, time.Now()
		if err := d.Handle(ctx, res); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute) // the resolution's wait is over, the firing's retry not yet
		synctest.Wait()
		if sms.count() != 0 {
			t.Fatalf("sent %d before the firing's retry", sms.count())
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if len(sms.sent) != 2 || sms.sent[0].Kind != KindFiring || sms.sent[1].Kind != KindResolved {
			t.Fatalf("sent %v, want the firing, then the resolution", recipients(sms.sent))
		}
		cancel()
		<-done
		if n := clock.n.Load(); n > 1000 {
			t.Fatalf("the sender looked at the clock %d times in four minutes: it spins", n)
		}
	})
}

// countingClock is the real clock (synctest's in a bubble) counting reads.
type countingClock struct {
	RealClock
	n atomic.Int64
}

func (c *countingClock) Now() time.Time {
	c.n.Add(1)
	return c.RealClock.Now()
}
