package alerting

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
)

// TestRestartInTheMiddleOfAnHour: CO2 at 1200 ppm in an open facility; the
// service stops after 20 minutes and starts again on the same state
// directory. The hourly mean goes on where it was: it fires at minute 29,
// when half the hour has data, as without the restart, and not at minute
// 49 (half an hour after the restart).
func TestRestartInTheMiddleOfAnHour(t *testing.T) {
	start := time.Date(2026, 5, 12, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))
	cfg := testConfig(t)
	now := start
	clock := func() time.Time { return now }
	open := func() *Service {
		nop := notify.NotifierFunc(func(context.Context, notify.Message) (bool, error) { return false, nil })
		s, err := New(Options{Config: cfg, Registry: testRegistry(), Registerer: prometheus.NewRegistry(), Clock: clock,
			Notifiers: map[notify.Channel]notify.Notifier{notify.ChannelSMS: nop}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	feed := func(s *Service, from, to int) {
		var b model.Batch
		for m := from; m < to; m++ {
			now = start.Add(time.Duration(m) * time.Minute)
			bt := model.Batch{Gateway: "gw-F-chaoyang", Facility: "F-chaoyang", Readings: []model.Reading{
				{Device: "co2-1", Room: "r1", Kind: model.KindCO2, Time: now, Value: 1200}}}
			s.observe(message{topic: model.Topic("F-chaoyang", "gw-F-chaoyang", model.SuffixBatch), payload: model.EncodeBatch(nil, &bt), arrived: now}, &b)
		}
	}
	// stop runs the engine's goroutine and stops it: what a SIGTERM does.
	stop := func(s *Service) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.evaluate(ctx)
		s.Close()
	}
	s := open()
	feed(s, 0, 20)
	stop(s)

	s = open()
	defer s.Close()
	feed(s, 20, 35)
	fp := rules.Fingerprint("co2_hourly", "F-chaoyang", "r1", "co2-1")
	a, ok := s.engine.Alert(fp)
	if !ok || a.State != rules.Firing || !a.FiredAt.Equal(start.Add(29*time.Minute)) {
		t.Fatalf("co2_hourly after a restart at minute 20: %s fired at %s, want firing since minute 29", a.State, a.FiredAt.Sub(start))
	}
}
