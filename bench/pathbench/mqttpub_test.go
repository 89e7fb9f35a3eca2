package pathbench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// broker starts an in-process MQTT broker on loopback and returns its
// address and a counter of messages received on zigbee2mqtt/+.
func broker(t testing.TB) (string, *atomic.Int64, *sync.Map) {
	t.Helper()
	s := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := s.AddListener(l); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	var seen sync.Map // topic → last payload
	if err := s.Subscribe(BaseTopic+"/+", 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		n.Add(1)
		seen.Store(pk.TopicName, bytes.Clone(pk.Payload))
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return l.Address(), &n, &seen
}

func TestLoadPublishDeliversEveryMessage(t *testing.T) {
	addr, n, seen := broker(t)
	tests := []Load{
		{Messages: 5000, Devices: 100, Publishers: 4, Window: 50},
		{Messages: 300, Devices: 7, Publishers: 1, Window: 1},
		{Messages: 0, Devices: 1, Publishers: 1, Window: 1},
	}
	for _, l := range tests {
		before := n.Load()
		st, err := l.Publish(context.Background(), addr, "test-", time.Now)
		if err != nil {
			t.Fatalf("%+v: %v", l, err)
		}
		if st.Messages != int64(l.Messages) {
			t.Errorf("%+v: %d acknowledged, want %d", l, st.Messages, l.Messages)
		}
		// mochi hands a message to the inline subscriber on its own
		// goroutine, which may finish after the PUBACK went out: wait for
		// the count to settle.
		want := before + int64(l.Messages)
		for deadline := time.Now().Add(10 * time.Second); n.Load() < want && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if got := n.Load() - before; got != int64(l.Messages) {
			t.Errorf("%+v: broker delivered %d, want %d", l, got, l.Messages)
		}
	}
	p, ok := seen.Load(BaseTopic + "/" + DeviceName(0))
	if !ok || !bytes.HasPrefix(p.([]byte), []byte(`{"battery":`)) {
		t.Errorf("payload of device 0: %q", p)
	}
}

func TestLoadPublishRejectsBadShape(t *testing.T) {
	for _, l := range []Load{
		{Messages: 1, Devices: 0, Publishers: 1, Window: 1},
		{Messages: 1, Devices: 2, Publishers: 3, Window: 1},
		{Messages: -1, Devices: 1, Publishers: 1, Window: 1},
	} {
		if _, err := l.Publish(context.Background(), "127.0.0.1:1", "x", time.Now); err == nil {
			t.Errorf("%+v: no error", l)
		}
	}
	if _, err := DialPublisher(context.Background(), "127.0.0.1:1", "x", 0); err == nil {
		t.Error("window 0: no error")
	}
}

func TestAppendLength(t *testing.T) {
	tests := []struct {
		n    int
		want []byte
	}{
		{0, []byte{0}},
		{127, []byte{0x7f}},
		{128, []byte{0x80, 0x01}},
		{16383, []byte{0xff, 0x7f}},
		{16384, []byte{0x80, 0x80, 0x01}},
		{268435455, []byte{0xff, 0xff, 0xff, 0x7f}},
	}
	for _, tt := range tests {
		if got := appendLength(nil, tt.n); !bytes.Equal(got, tt.want) {
			t.Errorf("appendLength(%d) = % x, want % x", tt.n, got, tt.want)
		}
	}
}

func TestAppendPublish(t *testing.T) {
	got := appendPublish(nil, "a/b", 0x0102, []byte("hi"))
	want := []byte{0x32, 9, 0, 3, 'a', '/', 'b', 1, 2, 'h', 'i'}
	if !bytes.Equal(got, want) {
		t.Errorf("got % x, want % x", got, want)
	}
}

// BenchmarkPublish is the generator's own cost per message against the
// in-process broker (which dominates the figure).
func BenchmarkPublish(b *testing.B) {
	addr, _, _ := broker(b)
	p, err := DialPublisher(context.Background(), addr, "bench", 1000)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	payload := Payload(nil, 1, 1)
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Publish(context.Background(), BaseTopic+"/th-00001", payload); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Drain(context.Background()); err != nil {
		b.Fatal(err)
	}
}
