package alerting

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// TestMain checks that the service's goroutines the latency benchmark
// starts all stop.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Workload of the service benchmarks, as in alerting/rules/bench_test.go:
// 1,000 facilities of six rooms, each room with a six-kind air sensor; room
// r0 also has a smoke detector, which the latency benchmark sets off.
const (
	svcFacilities = 1000
	svcRooms      = 6
	smokeDevice   = "r0-smoke"
)

var svcKinds = []model.Kind{model.KindTemperature, model.KindHumidity, model.KindCO2, model.KindPM25, model.KindHCHO, model.KindTVOC}

// svcValues are normal indoor values: they raise no alert.
var svcValues = map[model.Kind]float64{model.KindTemperature: 23, model.KindHumidity: 50, model.KindCO2: 700,
	model.KindPM25: 20, model.KindHCHO: 0.03, model.KindTVOC: 0.2}

func svcFacilityID(i int) string { return fmt.Sprintf("110105001-%04d", i) }

// svcGatewayID is the gateway registered to facility i.
func svcGatewayID(i int) string { return "gw-" + svcFacilityID(i) }

func svcRegistry() []*registry.Facility {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	out := make([]*registry.Facility, svcFacilities)
	for i := range out {
		f := &registry.Facility{Facility: model.Facility{ID: svcFacilityID(i), Name: "测试园", Region: "110105001", Location: loc},
			Gateways: []string{svcGatewayID(i)}, Operators: []registry.Operator{{Name: "园长", Phone: fmt.Sprintf("+86138%08d", i)}}}
		for r := 0; r < svcRooms; r++ {
			room := fmt.Sprintf("r%d", r)
			rt := model.RoomToddler
			if r == 0 {
				rt = model.RoomInfant
			}
			f.Rooms = append(f.Rooms, model.Room{ID: room, Type: rt})
			f.Devices = append(f.Devices, model.Device{ID: room + "-air", Room: room, Kinds: svcKinds, Interval: time.Minute})
		}
		f.Devices = append(f.Devices, model.Device{ID: smokeDevice, Room: "r0", Kinds: []model.Kind{model.KindSmoke}})
		out[i] = f
	}
	return out
}

// discardSink stands in for InfluxDB.
type discardSink struct{}

func (discardSink) Write(context.Context, []byte) error { return nil }

// newBenchService builds a service over the benchmark registry with the
// given SMS notifier, state in temporary directories, and no MQTT.
func newBenchService(b *testing.B, sms notify.Notifier, groupWait time.Duration, clock func() time.Time) *Service {
	b.Helper()
	cfg := testConfig(b)
	cfg.Events.Enabled = true // into discardSink
	cfg.HTTP.Listen = ""
	cfg.Notify.GroupWait = groupWait
	s, err := New(Options{Config: cfg, Registry: registry.Fixed(svcRegistry()...), Sink: discardSink{},
		Notifiers: map[notify.Channel]notify.Notifier{notify.ChannelSMS: sms}, Registerer: prometheus.NewRegistry(), Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// roomBatch is one room's six air readings at t.
func roomBatch(dst []byte, fac, room int, t time.Time, bump float64) []byte {
	bt := model.Batch{Gateway: svcGatewayID(fac), Facility: svcFacilityID(fac), Region: "110105001", Sent: t}
	r := fmt.Sprintf("r%d", room)
	for _, k := range svcKinds {
		bt.Readings = append(bt.Readings, model.Reading{Device: r + "-air", Room: r, Kind: k, Time: t, Value: svcValues[k] + bump})
	}
	return model.EncodeBatch(dst[:0], &bt)
}

// BenchmarkServiceObserve measures what the engine goroutine does per
// message outside the rule engine too: topic parsing, shard check, batch
// decoding, rules, state. Batches are encoded in the loop; the encode
// sub-benchmark measures that alone, so the difference is the service.
// Values stay inside every limit except in the flapping case.
// Run with -cpu 1 for a per-core figure.
func BenchmarkServiceObserve(b *testing.B) {
	start := time.Date(2026, 5, 12, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	topics := make([]string, svcFacilities)
	for i := range topics {
		topics[i] = model.Topic(svcFacilityID(i), svcGatewayID(i), model.SuffixBatch)
	}
	run := func(b *testing.B, observe bool, bump func(i int) float64) {
		var s *Service
		now := start
		if observe {
			nop := notify.NotifierFunc(func(context.Context, notify.Message) (bool, error) { return false, nil })
			s = newBenchService(b, nop, time.Second, func() time.Time { return now })
			defer s.close()
		}
		var buf []byte
		var bt model.Batch
		b.ReportAllocs()
		b.ResetTimer()
		n := 0
		for i := 0; n < b.N; i++ {
			fac, room := (i/svcRooms)%svcFacilities, i%svcRooms
			now = start.Add(time.Duration(i/(svcRooms*svcFacilities)) * time.Minute)
			buf = roomBatch(buf, fac, room, now, bump(i))
			if observe {
				s.observe(message{topic: topics[fac], payload: buf, arrived: now}, &bt)
			}
			n += len(svcKinds)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/reading")
	}
	steady := func(i int) float64 { return float64(i%7) / 10 }
	b.Run("encode", func(b *testing.B) { run(b, false, steady) })
	b.Run("encode+observe", func(b *testing.B) { run(b, true, steady) })
	// Temperature 23-29 °C against a 28 °C limit with for 15m: every
	// message moves an alert between pending and inactive, and each such
	// transition is an fsynced state record.
	b.Run("encode+observe,flapping", func(b *testing.B) { run(b, true, func(i int) float64 { return float64(i % 7) }) })
}

// latencies collects, per alert transition, the time from the arrival of
// the message that caused it to two points: Dispatcher.Handle being called
// (the engine side of "the notifier is called") and the SMS notifier being
// called (after the notification path's group_wait).
type latencies struct {
	mu       sync.Mutex
	arrived  map[string]time.Time // fingerprint|state → arrival
	handle   []time.Duration
	notifier []time.Duration
}

func (l *latencies) arrive(key string, at time.Time) {
	l.mu.Lock()
	l.arrived[key] = at
	l.mu.Unlock()
}

func (l *latencies) observe(key string, to *[]time.Duration) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if at, ok := l.arrived[key]; ok {
		*to = append(*to, now.Sub(at))
	}
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(math.Ceil(q*float64(len(s))))-1]
}

// Latency benchmark workload: readings per second, how long, and how often
// a smoke alarm goes off (each clears two seconds later).
const (
	latencyRate     = 5000
	latencyFeed     = 6 * time.Second
	latencyIncident = 200 * time.Millisecond
	latencyClear    = 2 * time.Second
)

// BenchmarkServiceLatency drives the service at latencyRate readings/s
// (one room's six readings per message, facilities in turn) with a smoke
// alarm every latencyIncident, and reports p50 and p99 from a message's
// arrival to Dispatcher.Handle and to the SMS notifier, for firing and
// resolved transitions alike. One iteration takes about latencyFeed plus
// group_wait; run it with -benchtime=1x.
func BenchmarkServiceLatency(b *testing.B) {
	for _, gw := range []time.Duration{time.Nanosecond, time.Second} {
		b.Run(fmt.Sprintf("group_wait=%s", gw), func(b *testing.B) {
			for b.Loop() {
				benchLatency(b, gw)
			}
		})
	}
}

func benchLatency(b *testing.B, groupWait time.Duration) {
	l := &latencies{arrived: map[string]time.Time{}}
	sms := notify.NotifierFunc(func(_ context.Context, m notify.Message) (bool, error) {
		for _, a := range m.Alerts {
			l.observe(a.Fingerprint+"|"+a.State.String(), &l.notifier)
		}
		return false, nil
	})
	s := newBenchService(b, sms, groupWait, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{s.evaluate, s.disp.Run, s.events.run, func(ctx context.Context) error {
		return benchNotifyLoop(ctx, s, l)
	}} {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	topics := make([]string, svcFacilities)
	for i := range topics {
		topics[i] = model.Topic(svcFacilityID(i), svcGatewayID(i), model.SuffixBatch)
	}
	smoke := func(fac int, v float64, state notify.State) {
		now := time.Now()
		bt := model.Batch{Gateway: svcGatewayID(fac), Facility: svcFacilityID(fac), Region: "110105001", Sent: now,
			Readings: []model.Reading{{Device: smokeDevice, Room: "r0", Kind: model.KindSmoke, Time: now, Value: v}}}
		l.arrive(rules.Fingerprint("smoke_alarm", svcFacilityID(fac), "r0", smokeDevice)+"|"+state.String(), now)
		s.in <- message{topic: topics[fac], payload: model.EncodeBatch(nil, &bt), arrived: now}
	}
	type clear struct {
		fac int
		at  time.Time
	}
	var clears []clear
	start := time.Now()
	sent, incidents, i := 0, 0, 0
	tick := time.NewTicker(2 * time.Millisecond)
	for now := range tick.C {
		el := now.Sub(start)
		if el >= latencyFeed {
			break
		}
		for due := int(el.Seconds() * latencyRate); sent < due; sent += len(svcKinds) {
			fac, room := (i/svcRooms)%svcFacilities, i%svcRooms
			i++
			s.in <- message{topic: topics[fac], payload: roomBatch(nil, fac, room, time.Now(), 0), arrived: time.Now()}
		}
		// No alarm in the last latencyClear: every one clears on schedule,
		// not within group_wait of firing.
		if el >= time.Duration(incidents+1)*latencyIncident && el < latencyFeed-latencyClear {
			fac := (incidents * 7) % svcFacilities
			incidents++
			smoke(fac, 1, notify.StateFiring)
			clears = append(clears, clear{fac, now.Add(latencyClear)})
		}
		for len(clears) > 0 && !now.Before(clears[0].at) {
			smoke(clears[0].fac, 0, notify.StateResolved)
			clears = clears[1:]
		}
	}
	tick.Stop()
	for _, c := range clears {
		smoke(c.fac, 0, notify.StateResolved)
	}
	// Let the last groups' wait pass, and the dispatcher send them.
	time.Sleep(groupWait + time.Second)
	cancel()
	wg.Wait()
	s.close()
	l.mu.Lock()
	defer l.mu.Unlock()
	b.ReportMetric(float64(sent)/latencyFeed.Seconds(), "readings/s")
	b.ReportMetric(float64(len(l.handle)), "transitions")
	b.ReportMetric(float64(len(l.notifier)), "notified")
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(quantile(l.handle, 0.5)), "ms-p50-handle")
	b.ReportMetric(ms(quantile(l.handle, 0.99)), "ms-p99-handle")
	b.ReportMetric(ms(quantile(l.notifier, 0.5)), "ms-p50-notifier")
	b.ReportMetric(ms(quantile(l.notifier, 0.99)), "ms-p99-notifier")
}

// benchNotifyLoop is Service.notifyLoop with a timestamp taken as each
// transition reaches Dispatcher.Handle.
func benchNotifyLoop(ctx context.Context, s *Service, l *latencies) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case tr := <-s.notifyQ:
			a := s.toNotify(tr)
			l.observe(a.Fingerprint+"|"+a.State.String(), &l.handle)
			if err := s.disp.Handle(ctx, a); err != nil {
				s.m.notifyFailed.Inc()
				continue
			}
			select {
			case s.notified <- tr:
			case <-ctx.Done():
				return nil
			}
		}
	}
}
