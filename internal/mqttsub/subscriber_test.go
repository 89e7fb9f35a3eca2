package mqttsub_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/mqttsub"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// got is one delivered message, copied.
type got struct {
	topic, payload string
	qos            byte
	dup            bool
}

// recorder is a Handler that keeps copies and acknowledges on Idle, as the
// gateway does after its spool commit, unless hold is set.
type recorder struct {
	mu      sync.Mutex
	sub     *mqttsub.Subscriber
	msgs    []got
	pending []mqttsub.Ack
	hold    bool
	idles   int
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) Message(m *mqttsub.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, got{string(m.Topic), string(m.Payload), m.QoS, m.Duplicate})
	r.pending = append(r.pending, m.Ack())
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) Idle() {
	r.mu.Lock()
	r.idles++
	var acks []mqttsub.Ack
	if !r.hold {
		acks, r.pending = r.pending, nil
	}
	r.mu.Unlock()
	if len(acks) > 0 {
		r.sub.Acknowledge(acks)
	}
}

func (r *recorder) snapshot() []got {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]got(nil), r.msgs...)
}

// waitFor waits until at least n messages arrived.
func (r *recorder) waitFor(t *testing.T, n int) []got {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if g := r.snapshot(); len(g) >= n {
			return g
		}
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("%d messages after 20 s, want %d", len(r.snapshot()), n)
		}
	}
}

// running is a Subscriber started on its own goroutine.
type running struct {
	sub    *mqttsub.Subscriber
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, o mqttsub.Options, r *recorder) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.Handler, o.Registerer, o.MetricPrefix = r, reg, "test_local"
	if o.ClientID == "" {
		o.ClientID = "gateway"
	}
	if o.Filters == nil {
		o.Filters = []string{"sensors/#"}
	}
	sub, err := mqttsub.New(o)
	if err != nil {
		t.Fatal(err)
	}
	r.sub = sub
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{sub: sub, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { run.done <- sub.Run(ctx) }()
	t.Cleanup(run.stop)
	waitReady(t, sub)
	return run
}

func (r *running) stop() {
	r.cancel()
	if err := <-r.done; err != nil {
		panic(err)
	}
	r.done <- nil // a second stop returns at once
}

func waitReady(t *testing.T, sub *mqttsub.Subscriber) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); sub.Connected() != nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 20 s: %v", sub.Connected())
		}
	}
}

// publisher is a paho client standing for the sensors.
func publisher(t *testing.T, broker string) mqtt.Client {
	t.Helper()
	c, err := mqttx.New(mqttx.Options{Config: mqttx.Config{Broker: broker, ClientID: "sensors"}, CleanSession: true, AutoAck: true, OrderMatters: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mqttx.Connect(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

func publish(t *testing.T, c mqtt.Client, topic string, qos byte, payload []byte) {
	t.Helper()
	if err := mqttx.Wait(context.Background(), c.Publish(topic, qos, false, payload), 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// Messages arrive whole and in order, of every size up to the limit, and
// at QoS 0 with nothing to acknowledge.
func TestDeliversInOrder(t *testing.T) {
	b := testenv.Mosquitto(t)
	r := newRecorder()
	run := start(t, mqttsub.Options{Config: mqttx.Config{Broker: b.Addr()}, ReadCoalesce: time.Millisecond}, r)
	pub := publisher(t, b.Addr())
	const n = 3000
	var want []got
	for i := range n {
		p := []byte(fmt.Sprintf(`{"n":%d}`, i))
		if i%1000 == 999 {
			p = bytes.Repeat([]byte{'x'}, 200<<10) // beyond the 64 KiB read buffer
		}
		qos := byte(1)
		if i%10 == 0 {
			qos = 0
		}
		topic := fmt.Sprintf("sensors/s%d", i%7)
		pub.Publish(topic, qos, false, p)
		want = append(want, got{topic, string(p), qos, false})
	}
	gotMsgs := r.waitFor(t, n)
	// The broker keeps order within a QoS level; QoS 0 may overtake QoS 1
	// messages waiting for the in-flight window.
	for _, qos := range []byte{0, 1} {
		g, w := ofQoS(gotMsgs, qos), ofQoS(want, qos)
		if len(g) != len(w) {
			t.Fatalf("QoS %d: %d messages, want %d", qos, len(g), len(w))
		}
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("QoS %d message %d: topic %s, %d bytes; want %s, %d bytes",
					qos, i, g[i].topic, len(g[i].payload), w[i].topic, len(w[i].payload))
			}
		}
	}
	if v := testenv.Metric(t, run.reg, "test_local_messages_received_total"); v != n {
		t.Fatalf("messages_received_total %v, want %d", v, n)
	}
}

func ofQoS(msgs []got, qos byte) []got {
	var out []got
	for _, m := range msgs {
		if m.qos == qos {
			out = append(out, m)
		}
	}
	return out
}

// What the handler did not acknowledge comes again on the next connection
// (persistent session), marked duplicate; what it acknowledged does not.
func TestUnacknowledgedComeAgain(t *testing.T) {
	b := testenv.Mosquitto(t)
	held := newRecorder()
	held.hold = true
	first := start(t, mqttsub.Options{Config: mqttx.Config{Broker: b.Addr()}, DrainTimeout: 50 * time.Millisecond}, held)
	pub := publisher(t, b.Addr())
	for i := range 20 {
		publish(t, pub, "sensors/a", 1, []byte(fmt.Sprint(i)))
	}
	held.waitFor(t, 20)
	first.stop()

	again := newRecorder()
	second := start(t, mqttsub.Options{Config: mqttx.Config{Broker: b.Addr()}}, again)
	msgs := again.waitFor(t, 20)
	for i, m := range msgs[:20] {
		if m.payload != fmt.Sprint(i) || !m.dup {
			t.Fatalf("redelivery %d: %+v, want payload %d marked duplicate", i, m, i)
		}
	}
	// Acknowledged now: a third connection gets only what is new.
	waitAcknowledged(t, again)
	second.stop()
	publish(t, pub, "sensors/a", 1, []byte("new"))
	last := newRecorder()
	start(t, mqttsub.Options{Config: mqttx.Config{Broker: b.Addr()}}, last)
	if msgs := last.waitFor(t, 1); len(msgs) != 1 || msgs[0].payload != "new" {
		t.Fatalf("third connection got %+v, want only the new message", msgs)
	}
}

// waitAcknowledged waits until the recorder's Idle has passed on every ack.
func waitAcknowledged(t *testing.T, r *recorder) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r.mu.Lock()
		n := len(r.pending)
		r.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledgements still pending", n)
		}
	}
}

// After the broker restarts, the subscriber connects again by itself; the
// acknowledgements of the old connection are dropped and counted.
func TestReconnectsAfterBrokerRestart(t *testing.T) {
	b := testenv.Mosquitto(t)
	r := newRecorder()
	run := start(t, mqttsub.Options{Config: mqttx.Config{Broker: b.Addr()}, MaxReconnect: time.Second}, r)
	pub := publisher(t, b.Addr())
	publish(t, pub, "sensors/a", 1, []byte("before"))
	r.waitFor(t, 1)
	waitAcknowledged(t, r)

	r.mu.Lock()
	r.hold = true
	r.mu.Unlock()
	publish(t, pub, "sensors/a", 1, []byte("held"))
	r.waitFor(t, 2)
	b.Stop()
	b.Start()
	waitReady(t, run.sub)
	r.mu.Lock()
	stale := r.pending
	r.pending, r.hold = nil, false
	r.mu.Unlock()
	run.sub.Acknowledge(stale)
	if v := testenv.Metric(t, run.reg, "test_local_acks_stale_total"); v != 1 {
		t.Fatalf("acks_stale_total %v, want 1", v)
	}
	if v := testenv.Metric(t, run.reg, "test_local_connects_total"); v != 2 {
		t.Fatalf("connects_total %v, want 2", v)
	}
	// The held message comes again on the new connection.
	msgs := r.waitFor(t, 3)
	if msgs[2].payload != "held" || !msgs[2].dup {
		t.Fatalf("after the restart: %+v, want the held message again", msgs[2])
	}
}

// A message over MaxPacket is acknowledged, counted and dropped; the ones
// around it flow.
func TestOversizedDropped(t *testing.T) {
	b := testenv.Mosquitto(t)
	r := newRecorder()
	run := start(t, mqttsub.Options{Config: mqttx.Config{Broker: b.Addr()}, MaxPacket: 4096}, r)
	pub := publisher(t, b.Addr())
	publish(t, pub, "sensors/a", 1, []byte("small"))
	publish(t, pub, "sensors/a", 1, bytes.Repeat([]byte{'x'}, 100<<10))
	publish(t, pub, "sensors/a", 1, []byte("after"))
	msgs := r.waitFor(t, 2)
	if len(msgs) != 2 || msgs[0].payload != "small" || msgs[1].payload != "after" {
		t.Fatalf("got %+v, want small and after", msgs)
	}
	if v := testenv.Metric(t, run.reg, "test_local_messages_dropped_total", "reason", "too_large"); v != 1 {
		t.Fatalf("dropped too_large %v, want 1", v)
	}
}

// TLS with the broker's certificate verified against the configured CA.
func TestTLS(t *testing.T) {
	certs := testenv.Certs(t, "gateway")
	other := testenv.Certs(t, "gateway")
	b := testenv.Mosquitto(t, testenv.WithConfig("cafile "+certs.CA, "certfile "+certs.ServerCert, "keyfile "+certs.ServerKey, "tls_version tlsv1.2"))
	url := strings.Replace(b.Addr(), "tcp://", "ssl://", 1)
	r := newRecorder()
	start(t, mqttsub.Options{Config: mqttx.Config{Broker: url, TLS: mqttx.TLS{CAFile: certs.CA}}}, r)

	bad := newRecorder()
	reg := prometheus.NewRegistry()
	sub, err := mqttsub.New(mqttsub.Options{Config: mqttx.Config{Broker: url, ClientID: "other", TLS: mqttx.TLS{CAFile: other.CA}},
		Filters: []string{"sensors/#"}, Handler: bad, Registerer: reg, MetricPrefix: "test_local", MaxReconnect: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sub.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); testenv.Metric(t, reg, "test_local_connect_failures_total") == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no connection failure counted with an untrusted broker certificate")
		}
	}
	cancel()
	<-done
	if sub.Connected() == nil {
		t.Fatal("ready although the broker's certificate is not trusted")
	}
}

func TestNewRejects(t *testing.T) {
	h := newRecorder()
	cases := []struct {
		name string
		o    mqttsub.Options
	}{
		{"no handler", mqttsub.Options{Config: mqttx.Config{Broker: "tcp://127.0.0.1:1", ClientID: "c"}, Filters: []string{"a"}}},
		{"no filters", mqttsub.Options{Config: mqttx.Config{Broker: "tcp://127.0.0.1:1", ClientID: "c"}, Handler: h}},
		{"websocket", mqttsub.Options{Config: mqttx.Config{Broker: "ws://127.0.0.1:1", ClientID: "c"}, Filters: []string{"a"}, Handler: h}},
		{"no client id", mqttsub.Options{Config: mqttx.Config{Broker: "tcp://127.0.0.1:1"}, Filters: []string{"a"}, Handler: h}},
		{"QoS 3", mqttsub.Options{Config: mqttx.Config{Broker: "tcp://127.0.0.1:1", ClientID: "c"}, Filters: []string{"a"}, Handler: h, QoS: 3}},
		{"coalescing too long", mqttsub.Options{Config: mqttx.Config{Broker: "tcp://127.0.0.1:1", ClientID: "c"}, Filters: []string{"a"}, Handler: h, ReadCoalesce: time.Hour}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := mqttsub.New(c.o); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
