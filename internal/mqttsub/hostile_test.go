package mqttsub

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// scriptedBroker accepts connections on loopback, reads CONNECT, answers
// with connack and then writes script. It stands in for a broker that
// misbehaves, which no real one does on purpose.
type scriptedBroker struct {
	ln      net.Listener
	connack []byte
	script  []byte
}

func newScriptedBroker(t *testing.T, connack, script []byte) *scriptedBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &scriptedBroker{ln: ln, connack: connack, script: script}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.serve(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return b
}

func (b *scriptedBroker) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := packets.ReadPacket(r); err != nil { // CONNECT
		return
	}
	c.Write(b.connack)
	c.Write(b.script)
	// Read until the client hangs up (or 10 s pass).
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, err := r.ReadByte(); err != nil {
			return
		}
	}
}

func (b *scriptedBroker) addr() string { return "tcp://" + b.ln.Addr().String() }

// nopHandler counts deliveries.
type nopHandler struct{ n int }

func (h *nopHandler) Message(*Message) { h.n++ }
func (h *nopHandler) Idle()            {}

var connackOK = []byte{0x20, 0x02, 0x00, 0x00}

// A broker sending what MQTT forbids gets its connection closed (and made
// again later), never a panic or a hang, and messages before the bad
// packet are still delivered.
func TestProtocolViolationsCloseTheConnection(t *testing.T) {
	goodPublish := []byte{0x30, 0x05, 0x00, 0x01, 't', 'h', 'i'} // QoS 0, topic "t", payload "hi"
	cases := []struct {
		name   string
		script []byte
	}{
		{"remaining length of five bytes", []byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{"PUBLISH with QoS 3", []byte{0x36, 0x03, 0x00, 0x01, 't'}},
		{"topic longer than the packet", []byte{0x30, 0x03, 0x00, 0x09, 't'}},
		{"QoS 1 without identifier", []byte{0x32, 0x03, 0x00, 0x01, 't'}},
		{"CONNECT from the broker", []byte{0x10, 0x00}},
		{"second CONNACK", connackOK},
		{"short SUBACK", []byte{0x90, 0x01, 0x00}},
		{"short PUBREL", []byte{0x62, 0x01, 0x00}},
		{"oversized control packet", append([]byte{0x90, 0x80, 0x80, 0x40}, make([]byte, 8)...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newScriptedBroker(t, connackOK, append(append([]byte{}, goodPublish...), c.script...))
			h := &nopHandler{}
			s, err := New(Options{Config: mqttx.Config{Broker: b.addr(), ClientID: "c"}, Filters: []string{"#"}, Handler: h,
				MaxPacket: 1 << 20, Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.runSession(ctx) }()
			select {
			case err := <-done:
				if !errors.Is(err, errProtocol) {
					t.Errorf("session ended with %v, want a protocol error", err)
				}
			case <-time.After(10 * time.Second):
				cancel()
				<-done
				t.Fatal("the session did not end on a protocol violation")
			}
			cancel()
			if h.n != 1 {
				t.Errorf("%d messages delivered, want the one before the bad packet", h.n)
			}
		})
	}
}

// A refused connection is counted and retried; its reason is in the error.
func TestRefusedConnection(t *testing.T) {
	b := newScriptedBroker(t, []byte{0x20, 0x02, 0x00, 0x05}, nil) // not authorised
	reg := prometheus.NewRegistry()
	s, err := New(Options{Config: mqttx.Config{Broker: b.addr(), ClientID: "c"}, Filters: []string{"#"}, Handler: &nopHandler{}, Registerer: reg, MetricPrefix: "t"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.runSession(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err %v, want the broker's refusal", err)
	}
	if v := testenv.Metric(t, reg, "t_connect_failures_total"); v != 1 {
		t.Fatalf("connect failures %v, want 1", v)
	}
	if s.Connected() == nil {
		t.Fatal("ready after a refused connection")
	}
}

// A refused subscription (SUBACK 0x80) keeps the connection but makes the
// readiness check fail.
func TestRefusedSubscription(t *testing.T) {
	b := newScriptedBroker(t, connackOK, []byte{0x90, 0x03, 0x00, 0x01, 0x80})
	reg := prometheus.NewRegistry()
	s, err := New(Options{Config: mqttx.Config{Broker: b.addr(), ClientID: "c"}, Filters: []string{"secret/#"}, Handler: &nopHandler{}, Registerer: reg, MetricPrefix: "t"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.runSession(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); testenv.Metric(t, reg, "t_subscriptions_refused_total") == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("refusal not counted")
		}
	}
	if err := s.Connected(); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("readiness %v, want the refusal", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("clean stop: %v", err)
	}
}
