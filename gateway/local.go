package gateway

import (
	"errors"

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

// localLink receives the local broker's messages (mqttsub's reader
// goroutine: no locking) and gathers consecutive ones into a group: their
// readings go to the spool in one Append, and their acknowledgements go out
// together once that Append is durable. The broker thus deletes a message
// only after its readings are on disk.
type localLink struct {
	g   *Gateway
	sub *mqttsub.Subscriber
	sc  scratch
	// acks of the messages in the group, in the order received.
	acks []mqttsub.Ack
}

// Message decodes one message and adds its readings to the group.
func (l *localLink) Message(m *mqttsub.Message) {
	g := l.g
	var err error
	l.sc.now = g.o.Clock()
	l.sc.obs, err = g.decoders.DecodeBytes(m.Topic, m.Payload, l.sc.now, l.sc.obs[:0])
	if err == nil || len(l.sc.obs) > 0 {
		g.collect(&l.sc)
	}
	// A message with nothing to keep (counted and logged by the decoder set)
	// is acknowledged with its group, so acknowledgements keep the order
	// of the messages.
	l.acks = append(l.acks, m.Ack())
	if len(l.sc.ends) >= localGroupRecords || len(l.sc.arena) >= localGroupBytes {
		l.Idle()
	}
}

// Idle hands the group to the spool; the acknowledgements go out from the
// spool's callback after the fsync.
func (l *localLink) Idle() {
	if len(l.acks) == 0 {
		return
	}
	acks := append([]mqttsub.Ack(nil), l.acks...)
	l.acks = l.acks[:0]
	l.g.store(&l.sc, func(err error) {
		switch {
		case errors.Is(err, spool.ErrClosed):
			// Stopping: the local broker delivers them again at the next start.
			l.g.log.Info("stopping; messages left to the local broker", "messages", len(acks))
			return
		case err != nil:
			// Not acknowledged: the local broker delivers them again after
			// the next reconnect. Counted, never silently dropped.
			l.g.log.Error("spool append failed; messages left unacknowledged", "messages", len(acks), "err", err)
			return
		}
		l.sub.Acknowledge(acks)
	})
}
