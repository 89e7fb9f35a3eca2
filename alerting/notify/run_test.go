package notify

import (
	"context"
	"log/slog"
	"strings"
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
		d, err := New(Options{Config: testConfig(t.TempDir()), Registerer: prometheus.NewRegistry(), Rand: seeded(1),
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
