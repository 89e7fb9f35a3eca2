package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// malformed are the payloads of a flood, sent in turn on the flood
// device's topic (or another topic, where given): nothing of them may be
// stored. Each would, if a decoder accepted it, store a reading of the
// flood device, which the accounting finds.
var malformed = []struct{ topic, payload string }{
	{"", "not json at all"},
	{"", `{"co2":`},
	{"", fmt.Sprintf(`{"co2":%d,"co2":1}`, markerForged)},                          // a duplicate key
	{"", `{"co2":1e-400}`},                                                         // underflows to 0
	{"", `{"co2":1e400}`},                                                          // overflows
	{"", `{"co2":"49999"}`},                                                        // a string
	{"", "\x00\xff\xfe binary \x01"},                                               // not text
	{"", strings.Repeat("[", 5000) + strings.Repeat("]", 5000)},                    // deeply nested
	{"zigbee2mqtt/room-1/unknown-sensor", fmt.Sprintf(`{"co2":%d}`, markerForged)}, // a device nobody registered
	{"", `{"smoke":"maybe"}`},
}

// flood publishes n malformed messages on a facility's local broker as
// fast as it acknowledges them (200 in flight), with the sensors'
// credentials: a broken or hostile device on the facility's network.
func (r *run) flood(ctx context.Context, f *facility, n int) (string, error) {
	before, _ := metrics(f.httpAddr, "cw_gateway_decode_errors_total")
	o := mqtt.NewClientOptions().AddBroker(fmt.Sprintf("tcp://127.0.0.1:%d", f.localPort)).SetClientID("flood-" + f.ID).
		SetUsername("zigbee2mqtt").SetPassword(f.localPassword).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		return "", fmt.Errorf("flood client: %v", tok.Error())
	}
	defer c.Disconnect(250)
	var window []mqtt.Token
	acked := 0
	flush := func() {
		for _, t := range window {
			if t.WaitTimeout(30*time.Second) && t.Error() == nil {
				acked++
			}
		}
		window = window[:0]
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		m := malformed[i%len(malformed)]
		topic := m.topic
		if topic == "" {
			topic = "zigbee2mqtt/" + addrFlood
		}
		window = append(window, c.Publish(topic, 1, false, m.payload))
		if len(window) == 200 {
			flush()
		}
	}
	flush()
	after, _ := metrics(f.httpAddr, "cw_gateway_decode_errors_total")
	return fmt.Sprintf("%d malformed messages, %d acknowledged; gateway decode errors +%.0f (counted by the gateway since its last start)", n, acked, after-before), nil
}
