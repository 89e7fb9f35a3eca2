package simulator

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	mqttserver "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// brokerRecord is a message as the broker received it.
type brokerRecord struct {
	client   string
	topic    string
	payload  []byte
	retained bool
}

// recordHook records every publish in OnPublish, which mochi runs before
// it sends the PUBACK: whatever a client saw acknowledged is recorded.
type recordHook struct {
	mqttserver.HookBase
	mu   sync.Mutex
	msgs []brokerRecord
}

func (h *recordHook) ID() string { return "record" }

func (h *recordHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqttserver.OnPublish}, []byte{b})
}

func (h *recordHook) OnPublish(cl *mqttserver.Client, pk packets.Packet) (packets.Packet, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, brokerRecord{client: cl.ID, topic: pk.TopicName,
		payload: append([]byte(nil), pk.Payload...), retained: pk.FixedHeader.Retain})
	return pk, nil
}

func (h *recordHook) records() []brokerRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]brokerRecord(nil), h.msgs...)
}

// startBroker runs an in-process broker on a free loopback port and
// returns its URL.
func startBroker(t *testing.T) (string, *recordHook) {
	t.Helper()
	srv := mqttserver.New(&mqttserver.Options{InlineClient: false,
		Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	rec := &recordHook{}
	if err := srv.AddHook(rec, nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := srv.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return "tcp://" + tcp.Address(), rec
}

// stepClock is a wall clock the test drives: each call of After tells the
// test, through waits, that a step finished, and the step after it runs
// when the test sends on the returned channel.
type stepClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan chan time.Time
}

func newStepClock(now time.Time) *stepClock {
	return &stepClock{now: now, waits: make(chan chan time.Time, 1)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- ch
	return ch
}

// wait blocks until the running step has finished and returns the
// channel that releases the next one.
func (c *stepClock) wait() chan time.Time { return <-c.waits }

// release moves the clock by d and lets the next step run.
func (c *stepClock) release(ch chan time.Time, d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch <- now
}

// mustTime parses an RFC 3339 time.
func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
