package gateway

import (
	"errors"
	"time"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/internal/mqttsub"
)

// Bounds of one group of local messages handed to the spool in one Append:
// large enough that a busy link costs one append (and one acknowledgement
// write) per socket read, small enough that the spool's queue and a group
// commit stay in proportion.
const (
	localGroupRecords = 2048
	localGroupBytes   = 128 << 10
)

// localMaxReconnect caps the wait between attempts to reach the external
// local broker after it went away: the sooner the gateway is back, the
// closer to the truth the arrival time of an untimed reading that waited
// in the broker's queue (docs/wire.md, "Time").
const localMaxReconnect = 2 * time.Second

// localLink receives the messages of an external local broker (mqttsub's
// reader goroutine) and gathers consecutive ones into a group: their
// readings go to the spool in one Append, and their acknowledgements go out
// together once that Append is durable. The broker thus deletes a message
// only after its readings are on disk. A message with an urgent state
// change ends its group at once (urgent.go).
type localLink struct {
	g   *Gateway
	in  *intake
	sub *mqttsub.Subscriber
	// acks of the messages in the group, in the order received.
	acks []mqttsub.Ack
}

// Message decodes one message and adds its readings to the group.
func (l *localLink) Message(m *mqttsub.Message) {
	in, ack := l.in, m.Ack()
	msg := message{topic: m.Topic, payload: m.Payload, received: l.g.o.Clock(), qos: m.QoS, dup: m.Duplicate, pid: m.PacketID()}
	in.mu.Lock()
	defer in.mu.Unlock()
	v := in.take(&msg, func() { l.sub.Acknowledge([]mqttsub.Ack{ack}) })
	if v != verdictWaiting {
		// A message with nothing to keep (counted and logged by the
		// decoder set) or a duplicate is acknowledged with its group, so
		// acknowledgements keep the order of the messages.
		l.acks = append(l.acks, ack)
	}
	sc := &in.sc
	if v == verdictUrgent || sc.gathered() >= localGroupRecords || len(sc.arena)+len(sc.urgent) >= localGroupBytes {
		l.flush()
	}
}

// Idle hands the group to the spool; the acknowledgements go out from the
// spool's callback after the fsync.
func (l *localLink) Idle() {
	l.in.mu.Lock()
	defer l.in.mu.Unlock()
	l.flush()
}

// flush is Idle with in.mu held.
func (l *localLink) flush() {
	if len(l.acks) == 0 && l.in.sc.gathered() == 0 {
		return
	}
	acks := append([]mqttsub.Ack(nil), l.acks...)
	l.acks = l.acks[:0]
	l.in.store(func(err error) {
		switch {
		case errors.Is(err, spool.ErrClosed):
			// Stopping: the local broker delivers them again at the next start.
			l.g.log.Info("stopping; messages left to the local broker", "messages", len(acks))
			return
		case err != nil:
			// Not acknowledged: the local broker delivers them again after
			// the next reconnect. Counted, never silently dropped.
			l.g.appendLog.Error(l.g.o.Clock(), "local", "spool append failed; messages left unacknowledged", "messages", len(acks), "err", err)
			return
		}
		l.sub.Acknowledge(acks)
	})
}
