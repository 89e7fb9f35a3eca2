package pathbench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// ReadingsPerMessage is how many readings (field values) one load message
// carries: temperature, humidity, battery, linkquality.
const ReadingsPerMessage = 4

// BaseTopic is Zigbee2MQTT's default base topic, under which the load is
// published and both pipelines subscribe.
const BaseTopic = "zigbee2mqtt"

// WarmupDevice is the friendly name (and device ID) of the message sent
// before the measurement to prove both pipelines are subscribed. Counts
// exclude it.
const WarmupDevice = "warmup"

// DeviceName is the Zigbee2MQTT friendly name of load device i. It has no
// '/', so Telegraf's zigbee2mqtt/+ matches it.
func DeviceName(i int) string {
	return fmt.Sprintf("th-%05d", i)
}

// Payload writes message k of device dev as Zigbee2MQTT publishes a
// temperature/humidity sensor: keys sorted, numbers as the device reports
// them. Values stay within every kind's valid range.
func Payload(dst []byte, dev, k int) []byte {
	v := dev*7 + k
	dst = append(dst, `{"battery":`...)
	dst = strconv.AppendInt(dst, int64(40+v%61), 10)
	dst = append(dst, `,"humidity":`...)
	dst = strconv.AppendFloat(dst, 30+float64(v%500)/10, 'f', 1, 64)
	dst = append(dst, `,"linkquality":`...)
	dst = strconv.AppendInt(dst, int64(v%256), 10)
	dst = append(dst, `,"temperature":`...)
	dst = strconv.AppendFloat(dst, 18+float64(v%1000)/100, 'f', 2, 64)
	return append(dst, '}')
}

// Load describes the messages to publish.
type Load struct {
	Messages   int // in all
	Devices    int // friendly names th-00000 .. th-<Devices-1>
	Publishers int // MQTT connections
	Window     int // unacknowledged messages per connection
}

// schedule calls f, in order, for every message publisher p sends: message
// k goes to device k mod Devices, and device d belongs to publisher
// d mod Publishers. A device's consecutive messages are thus
// Devices/Publishers messages apart in its publisher's stream.
func (l Load) schedule(p int, f func(k, dev int) error) error {
	for k := 0; k < l.Messages; k++ {
		dev := k % l.Devices
		if dev%l.Publishers != p {
			continue
		}
		if err := f(k, dev); err != nil {
			return err
		}
	}
	return nil
}

// PublishStats is what the load generator did.
type PublishStats struct {
	Messages int64         // acknowledged by the broker
	Elapsed  time.Duration // first publish to the last acknowledgement
}

// Publish sends the load through l.Publishers connections to addr and
// returns once the broker acknowledged every message. now is the clock.
func (l Load) Publish(ctx context.Context, addr, clientPrefix string, now func() time.Time) (PublishStats, error) {
	if l.Messages < 0 || l.Devices < 1 || l.Publishers < 1 || l.Publishers > l.Devices {
		return PublishStats{}, fmt.Errorf("pathbench: load: want messages ≥ 0 and 1 ≤ publishers ≤ devices, got %+v", l)
	}
	pubs := make([]*Publisher, l.Publishers)
	defer func() {
		for _, p := range pubs {
			if p != nil {
				p.Close()
			}
		}
	}()
	for i := range pubs {
		p, err := DialPublisher(ctx, addr, clientPrefix+strconv.Itoa(i), l.Window)
		if err != nil {
			return PublishStats{}, err
		}
		pubs[i] = p
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := now()
	errs := make([]error, len(pubs))
	var wg sync.WaitGroup
	for i, p := range pubs {
		wg.Go(func() {
			errs[i] = l.publishAll(ctx, i, p)
			if errs[i] != nil {
				cancel() // one broken connection ends the run
			}
		})
	}
	wg.Wait()
	st := PublishStats{Elapsed: now().Sub(start)}
	for i, p := range pubs {
		st.Messages += p.Acked()
		if errs[i] != nil {
			return st, fmt.Errorf("pathbench: publisher %d: %w", i, errs[i])
		}
	}
	return st, nil
}

func (l Load) publishAll(ctx context.Context, i int, p *Publisher) error {
	topics := make(map[int]string)
	var payload []byte
	err := l.schedule(i, func(k, dev int) error {
		t, ok := topics[dev]
		if !ok {
			t = BaseTopic + "/" + DeviceName(dev)
			topics[dev] = t
		}
		payload = Payload(payload[:0], dev, k)
		return p.Publish(ctx, t, payload)
	})
	if err != nil {
		return err
	}
	return p.Drain(ctx)
}
