package chaos

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/embedbroker"
)

// interceptor records what reaches a broker and acknowledges it only when
// told to.
type interceptor struct {
	mu   sync.Mutex
	msgs []embedbroker.Message
	ack  bool
}

func (i *interceptor) Wants(string) bool { return true }

func (i *interceptor) Publish(m embedbroker.Message, ack func()) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.msgs = append(i.msgs, m)
	if i.ack {
		ack()
	}
}

func (i *interceptor) seen() []embedbroker.Message {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]embedbroker.Message(nil), i.msgs...)
}

// A message the broker never acknowledged is not accepted, however the
// connection ends: after the reconnect it goes again with DUP and its
// packet ID, and is accepted when that copy's PUBACK arrives. (paho
// completes such a message's token, without an error, when it sends it
// again, which made a harness count it accepted.)
func TestPublisherAcceptsOnlyWhatWasAcknowledged(t *testing.T) {
	first := &interceptor{}
	b, err := embedbroker.New(embedbroker.Options{Config: embedbroker.Config{Listen: "127.0.0.1:0"}, Intercept: first})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(b.Addr(), "tcp://")
	p, err := dialPublisher(addr, "sensor", "", "", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	acked := make(chan time.Time, 1)
	if err := p.Publish("zigbee2mqtt/a", []byte(`{"co2":1}`), func(at time.Time) { acked <- at }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(first.seen()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(first.seen()) != 1 {
		t.Fatal("the first broker did not get the message")
	}
	b.Close() // its acknowledgement never leaves
	// Taken before the second broker listens: the publisher may reconnect
	// and be acknowledged before New returns.
	firstGone := time.Now()
	second := &interceptor{ack: true}
	b2, err := embedbroker.New(embedbroker.Options{Config: embedbroker.Config{Listen: addr}, Intercept: second})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	select {
	case at := <-acked:
		if at.Before(firstGone) {
			t.Fatalf("accepted at %v, before the first broker was closed (%v): it never acknowledged", at, firstGone)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no PUBACK from the second broker")
	}
	got := second.seen()
	if len(got) != 1 || !got[0].Dup || got[0].PacketID != first.seen()[0].PacketID || string(got[0].Payload) != `{"co2":1}` {
		t.Fatalf("the second broker got %+v; want the message again, DUP, same packet ID %d", got, first.seen()[0].PacketID)
	}
	if p.Pending() != 0 {
		t.Fatalf("%d messages still pending", p.Pending())
	}
}
