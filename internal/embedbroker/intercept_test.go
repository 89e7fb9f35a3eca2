package embedbroker

import (
	"errors"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// holder is an Interceptor that keeps each message's ack until the test
// releases it.
type holder struct {
	mu   sync.Mutex
	got  []Message
	acks []func()
	in   chan Message
}

func (h *holder) Wants(topic string) bool { return topic != "pass/through" }

func (h *holder) Publish(m Message, ack func()) {
	h.mu.Lock()
	h.got = append(h.got, m)
	h.acks = append(h.acks, ack)
	h.mu.Unlock()
	h.in <- m
}

func (h *holder) release(i int) {
	h.mu.Lock()
	ack := h.acks[i]
	h.mu.Unlock()
	ack()
}

func client(t *testing.T, addr, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(addr).SetClientID(id).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

// done reports whether a token has completed, without waiting.
func done(tok mqtt.Token) bool {
	select {
	case <-tok.Done():
		return true
	default:
		return false
	}
}

// The interceptor gets a wanted message before the broker acknowledges it,
// and the publisher gets its PUBACK, and subscribers the message, only once
// the interceptor acknowledges it; other topics pass as usual.
func TestInterceptedMessagesWaitForTheirAck(t *testing.T) {
	h := &holder{in: make(chan Message, 16)}
	reg := prometheus.NewRegistry()
	received := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	b, err := New(Options{Config: Config{Listen: "127.0.0.1:0"}, Intercept: h, Clock: func() time.Time { return received },
		MetricPrefix: "test", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	delivered := make(chan string, 16)
	sub := client(t, b.Addr(), "subscriber")
	if tok := sub.Subscribe("#", 1, func(_ mqtt.Client, m mqtt.Message) { delivered <- m.Topic() + " " + string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	pub := client(t, b.Addr(), "sensor-1")

	first := pub.Publish("zigbee2mqtt/door", 1, true, `{"contact":false}`)
	m := <-h.in
	if m.Client != "sensor-1" || m.Topic != "zigbee2mqtt/door" || string(m.Payload) != `{"contact":false}` || m.QoS != 1 || !m.Retain || m.Dup || !m.Received.Equal(received) {
		t.Fatalf("intercepted %+v", m)
	}
	second := pub.Publish("zigbee2mqtt/door", 1, false, `{"contact":true}`)
	<-h.in
	// A topic nobody intercepts passes at once. mochi handles one client's
	// packets in order, so its PUBACK would follow the first message's
	// if that had gone out.
	if tok := pub.Publish("pass/through", 1, false, "x"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("pass-through publish: %v", tok.Error())
	}
	if got := <-delivered; got != "pass/through x" {
		t.Fatalf("delivered %q first, want the pass-through message: intercepted messages went out before their ack", got)
	}
	if done(first) || done(second) {
		t.Fatal("PUBACK sent before the interceptor acknowledged")
	}

	h.release(0)
	if !first.WaitTimeout(10 * time.Second) {
		t.Fatal("no PUBACK after the ack")
	}
	if got := <-delivered; got != `zigbee2mqtt/door {"contact":false}` {
		t.Fatalf("delivered %q after the ack", got)
	}
	if done(second) {
		t.Fatal("second message acknowledged with the first")
	}
	h.release(1)
	if !second.WaitTimeout(10*time.Second) || <-delivered != `zigbee2mqtt/door {"contact":true}` {
		t.Fatal("second message not acknowledged and delivered after its ack")
	}

	// The retained message was kept as the broker keeps any.
	late := make(chan string, 1)
	client(t, b.Addr(), "late").Subscribe("zigbee2mqtt/door", 1, func(_ mqtt.Client, m mqtt.Message) { late <- string(m.Payload()) })
	if got := <-late; got != `{"contact":false}` {
		t.Fatalf("retained %q", got)
	}

	// QoS 0 goes through at once; the interceptor sees it too.
	pub.Publish("zigbee2mqtt/q0", 0, false, "{}")
	if m := <-h.in; m.QoS != 0 || <-delivered != "zigbee2mqtt/q0 {}" {
		t.Fatalf("QoS 0: %+v", m)
	}
	if n := testutil.ToFloat64(b.acks.undelivered); n != 0 {
		t.Errorf("%v undelivered acknowledgements", n)
	}
}

// A message whose publisher's connection dropped before the ack is counted
// as undelivered, and the publisher sends it again on its next connection,
// marked DUP with the same packet ID.
func TestAckAfterDisconnectAndRedelivery(t *testing.T) {
	h := &holder{in: make(chan Message, 16)}
	b, err := New(Options{Config: Config{Listen: "127.0.0.1:0"}, Intercept: h, MetricPrefix: "test", Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	opts := mqtt.NewClientOptions().AddBroker(b.Addr()).SetClientID("sensor-2").SetCleanSession(false).
		SetAutoReconnect(true).SetConnectRetryInterval(20 * time.Millisecond).SetMaxReconnectInterval(50 * time.Millisecond)
	pub := mqtt.NewClient(opts)
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(50)
	tok := pub.Publish("zigbee2mqtt/th", 1, false, `{"temperature":21.5}`)
	first := <-h.in
	cl, ok := b.srv.Clients.Get("sensor-2")
	if !ok {
		t.Fatal("no client sensor-2")
	}
	cl.Stop(errors.New("test: connection dropped"))
	h.release(0) // too late for that connection
	redelivered := false
	select {
	case again := <-h.in:
		// The usual case: the acknowledgement found the connection gone,
		// and the sensor sends the message again on its next one.
		if !again.Dup || again.PacketID != first.PacketID || string(again.Payload) != string(first.Payload) {
			t.Fatalf("redelivery %+v of %+v: want DUP with the same packet ID", again, first)
		}
		redelivered = true
		h.release(1)
	case <-tok.Done():
		// paho reconnected first and the broker's session carried the
		// acknowledgement to the new connection: nothing to send again.
	}
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish not completed after the message was acknowledged: %v", tok.Error())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Close waited for every acknowledgement in progress; one that could
	// not reach its connection is counted.
	if n := testutil.ToFloat64(b.acks.undelivered); redelivered && n < 1 {
		t.Errorf("%v acknowledgements counted undelivered, want at least the first delivery's", n)
	}
}

// QoS 2 goes the same way: PUBREC only after the ack, then mochi completes
// the exchange (PUBREL, PUBCOMP) as for any message.
func TestInterceptedQoS2(t *testing.T) {
	h := &holder{in: make(chan Message, 4)}
	b, err := New(Options{Config: Config{Listen: "127.0.0.1:0"}, Intercept: h, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pub := client(t, b.Addr(), "sensor-q2")
	tok := pub.Publish("zigbee2mqtt/smoke", 2, false, `{"smoke":true}`)
	if m := <-h.in; m.QoS != 2 {
		t.Fatalf("QoS %d", m.QoS)
	}
	if tok := pub.Publish("pass/through", 2, false, "x"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("pass-through: %v", tok.Error())
	}
	if done(tok) {
		t.Fatal("QoS 2 exchange completed before the ack")
	}
	h.release(0)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("QoS 2 exchange not completed after the ack: %v", tok.Error())
	}
}
