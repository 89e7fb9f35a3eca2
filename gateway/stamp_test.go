package gateway

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// Readings without a device time get their arrival time, strictly
// increasing per device, so a burst of one device's messages (a broker
// replaying its queue) never merges into one InfluxDB point.
func TestArrivalStampsIncreasePerDevice(t *testing.T) {
	a, b := &model.Device{ID: "a"}, &model.Device{ID: "b"}
	base := time.UnixMilli(1_790_000_000_000)
	type obs struct {
		dev     *model.Device
		arrival time.Duration // after base
		want    time.Duration // stamp after base
	}
	cases := []struct {
		name     string
		messages [][]obs
	}{
		{"spread out: arrival times kept", [][]obs{
			{{a, 0, 0}}, {{a, 5 * time.Millisecond, 5 * time.Millisecond}}, {{b, 5 * time.Millisecond, 5 * time.Millisecond}},
		}},
		{"burst of one device: one millisecond apart", [][]obs{
			{{a, 0, 0}, {a, 0, 0}}, {{a, 0, 1 * time.Millisecond}, {a, 0, 1 * time.Millisecond}}, {{a, 0, 2 * time.Millisecond}},
		}},
		{"sub-millisecond arrivals", [][]obs{
			{{a, 100 * time.Microsecond, 0}}, {{a, 900 * time.Microsecond, 1 * time.Millisecond}}, {{a, 2 * time.Millisecond, 2 * time.Millisecond}},
		}},
		{"devices independent", [][]obs{
			{{a, 0, 0}, {b, 0, 0}}, {{a, 0, 1 * time.Millisecond}}, {{b, 0, 1 * time.Millisecond}}, {{b, 3 * time.Millisecond, 3 * time.Millisecond}},
		}},
		{"clock going back: still increasing", [][]obs{
			{{a, 10 * time.Millisecond, 10 * time.Millisecond}}, {{a, 0, 11 * time.Millisecond}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sc scratch
			for i, msg := range c.messages {
				sc.message = sc.message[:0]
				for _, o := range msg {
					got := sc.arrival(o.dev, base.Add(o.arrival))
					if want := base.Add(o.want); !got.Equal(want) {
						t.Errorf("message %d, device %s: stamp %s, want %s", i, o.dev.ID, got.Sub(base), o.want)
					}
				}
			}
		})
	}
}

// A flood of untimed messages from one device (80,000 in 4 s) never dates
// a reading more than local.max_stamp_lead ahead of its arrival: what would
// lead further is refused, counted and reported in the status message. A
// device sending at a normal rate meanwhile loses nothing, and every
// device's stamps stay strictly increasing.
func TestFloodNeverDatesReadingsInTheFuture(t *testing.T) {
	r := newRig(t, 2, 0)
	g, reg := r.gateway(Options{})
	runSpool(t, g)
	in := g.local
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.Local)
	const flood, span = 80000, 4 * time.Second
	step := span / flood // 50 µs
	lead := g.cfg.Local.MaxStampLead
	arrivals := map[string][]time.Time{} // by device and message order
	errc := make(chan error, 1)
	in.mu.Lock()
	calm := 0
	for i := range flood {
		at := t0.Add(time.Duration(i) * step)
		// The temperature says which message it was: -50 + i/1000.
		topic := "zigbee2mqtt/th-0"
		payload := fmt.Appendf(nil, `{"temperature":%.3f,"linkquality":120}`, -50+float64(i)/1000)
		in.take(&message{topic: []byte(topic), payload: payload, received: at}, nil)
		arrivals["th-0"] = append(arrivals["th-0"], at)
		if i%(flood/40) == 0 { // 10 messages a second
			topic, payload := z2m(1, 20)
			in.take(&message{topic: []byte(topic), payload: payload, received: at}, nil)
			arrivals["th-1"] = append(arrivals["th-1"], at)
			calm++
		}
		if in.sc.gathered() > 1000 {
			in.store(func(err error) {
				if err != nil {
					errc <- err
				}
			})
		}
	}
	done := make(chan error, 1)
	in.store(func(err error) { done <- err })
	in.mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}

	st := g.Status(model.GatewayOnline, false)
	g.Close()
	readings, _ := spoolReadings(t, r.cfg.Spool.Dir)
	last := map[string]int64{}
	kept := map[string]int{}
	var maxLead time.Duration
	end := t0.Add(span)
	for _, rd := range readings {
		if rd.Kind != model.KindTemperature {
			continue
		}
		ms := rd.Time.UnixMilli()
		if ms <= last[rd.Device] {
			t.Fatalf("%s: stamp %d after %d: not increasing", rd.Device, ms, last[rd.Device])
		}
		last[rd.Device] = ms
		k := kept[rd.Device] // the calm device loses nothing: its k-th message
		if rd.Device == "th-0" {
			k = int(math.Round((rd.Value + 50) * 1000))
		}
		kept[rd.Device]++
		if l := rd.Time.Sub(arrivals[rd.Device][k]); l > maxLead {
			maxLead = l
		}
		if rd.Time.After(end.Add(lead)) {
			t.Fatalf("%s dated %s, more than %s after the last message arrived", rd.Device, rd.Time.Sub(end), lead)
		}
	}
	if maxLead > lead {
		t.Errorf("a stamp led its arrival by %s, bound %s", maxLead, lead)
	}
	if kept["th-1"] != calm {
		t.Errorf("the calm device kept %d of %d readings", kept["th-1"], calm)
	}
	refused := flood - kept["th-0"]
	if refused == 0 || kept["th-0"] < int(span/time.Millisecond) {
		t.Errorf("flooding device: %d kept, %d refused; want about one a millisecond kept, the rest refused", kept["th-0"], refused)
	}
	// Two readings (temperature, linkquality) per refused message.
	if n := testenv.Metric(t, reg, "cw_gateway_readings_rate_limited_total"); n != float64(2*refused) {
		t.Errorf("rate_limited_total %v, want %d", n, 2*refused)
	}
	if st.RateLimited != uint64(2*refused) || len(st.NoDeviceTime) != 1 || st.NoDeviceTime[0] != "zigbee2mqtt" {
		t.Errorf("status: rate_limited %d (want %d), no_device_time %v", st.RateLimited, 2*refused, st.NoDeviceTime)
	}
	t.Logf("flood: %d of %d kept, %d refused; largest lead %s", kept["th-0"], flood, refused, maxLead)
}
