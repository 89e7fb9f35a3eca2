package gateway

import (
	"errors"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/internal/embedbroker"
)

// embeddedLink takes the embedded broker's messages inside the broker,
// before it acknowledges them (embedbroker.Interceptor): a sensor's PUBACK
// leaves only once the message's readings are fsynced in the spool, and a
// reading without a device time is dated when the broker read it. Each
// message is appended on its own (the spool's group commit gathers the
// appends of all sensors into one fsync), from the goroutine that reads its
// sensor's connection; the intake's lock orders them.
type embeddedLink struct {
	g  *Gateway
	in *intake
}

// Wants implements embedbroker.Interceptor: the topics the sources read.
func (l *embeddedLink) Wants(topic string) bool { return l.g.decoders.Reads(topic) }

// Publish implements embedbroker.Interceptor.
func (l *embeddedLink) Publish(m embedbroker.Message, ack func()) {
	in := l.in
	in.mu.Lock()
	defer in.mu.Unlock()
	sc := &in.sc
	sc.topic = append(sc.topic[:0], m.Topic...)
	msg := message{topic: sc.topic, payload: m.Payload, received: m.Received, qos: m.QoS, dup: m.Dup, pid: m.PacketID}
	switch in.take(&msg, ack) {
	case verdictEmpty, verdictDuplicate:
		in.afterPending(ack) // in order, behind messages waiting for their fsync
		return
	case verdictWaiting:
		return // acknowledged with its original
	}
	in.store(func(err error) {
		switch {
		case err == nil:
			ack()
		case errors.Is(err, spool.ErrClosed):
			// Stopping: the sensor sends it again to the next broker.
		default:
			// Not acknowledged: the sensor sends it again when it
			// reconnects. Counted in cw_gateway_spool_append_failures_total.
			l.g.appendLog.Error(l.g.o.Clock(), "embedded", "spool append failed; message left unacknowledged", "client", m.Client, "topic", m.Topic, "err", err)
		}
	})
}
