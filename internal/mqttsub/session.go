package mqttsub

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/cradlewatch/cradlewatch/internal/mqttx"
)

// session is one connection: the reader runs on Run's goroutine, a writer
// goroutine sends acknowledgements and pings.
type session struct {
	s   *Subscriber
	gen uint32
	nc  net.Conn
	r   *bufio.Reader
	msg Message // reused for every delivery

	mu     sync.Mutex
	out    []byte // packets waiting for the writer
	spare  []byte
	closed bool

	outstanding atomic.Int64  // QoS 1/2 messages delivered and not yet acknowledged
	wake        chan struct{} // capacity 1: out has packets
	acked       chan struct{} // capacity 1: outstanding went down
	stop        chan struct{} // closed: the writer sends what is left and returns
	writerDone  chan struct{}
	lastDropLog time.Time
	smallRead   bool // the last read from the network filled less than a quarter of the buffer
}

// runSession makes one connection and serves it until it fails or ctx ends.
func (s *Subscriber) runSession(ctx context.Context) error {
	nc, err := mqttx.Dial(ctx, s.o.Config, s.o.ConnectTimeout)
	if err != nil {
		s.m.connectFailures.Inc()
		return fmt.Errorf("dial: %w", err)
	}
	ss := &session{
		s: s, gen: s.gen.Add(1), nc: nc, r: bufio.NewReaderSize(nc, readBuffer),
		wake: make(chan struct{}, 1), acked: make(chan struct{}, 1), stop: make(chan struct{}), writerDone: make(chan struct{}),
	}
	if err := ss.handshake(); err != nil {
		nc.Close()
		s.m.connectFailures.Inc()
		return err
	}
	s.refused.Store(false)
	s.cur.Store(ss)
	s.m.connects.Inc()
	s.m.connected.Set(1)
	s.log.Info("mqtt connected", "filters", s.o.Filters)
	go ss.writeLoop()

	unblock := context.AfterFunc(ctx, func() { nc.SetReadDeadline(time.Unix(1, 0)) })
	err = ss.readLoop(ctx)
	unblock()
	clean := ctx.Err() != nil
	if clean {
		ss.drain()
	}
	ss.end(clean)
	s.cur.CompareAndSwap(ss, nil)
	s.ready.Store(false)
	s.m.connected.Set(0)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// handshake sends CONNECT, waits for CONNACK and sends SUBSCRIBE; the SUBACK
// arrives in the read loop, possibly after queued messages.
func (ss *session) handshake() error {
	o := &ss.s.o
	ss.nc.SetDeadline(time.Now().Add(o.ConnectTimeout))
	defer ss.nc.SetDeadline(time.Time{})
	c := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	c.ProtocolName, c.ProtocolVersion = "MQTT", 4
	c.CleanSession = o.CleanSession
	c.Keepalive = uint16(o.KeepAlive / time.Second)
	c.ClientIdentifier = o.ClientID
	if o.Username != "" {
		c.UsernameFlag, c.Username = true, o.Username
	}
	if o.Password != "" {
		c.PasswordFlag, c.Password = true, []byte(o.Password)
	}
	if err := c.Write(ss.nc); err != nil {
		return fmt.Errorf("send CONNECT: %w", err)
	}
	p, err := packets.ReadPacket(ss.r)
	if err != nil {
		return fmt.Errorf("read CONNACK: %w", err)
	}
	ack, ok := p.(*packets.ConnackPacket)
	if !ok {
		return fmt.Errorf("%w: %T before CONNACK", errProtocol, p)
	}
	if ack.ReturnCode != packets.Accepted {
		return fmt.Errorf("broker refused the connection: %s (code %d)", packets.ConnackReturnCodes[ack.ReturnCode], ack.ReturnCode)
	}
	sub := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
	sub.MessageID = 1
	sub.Topics = o.Filters
	for range o.Filters {
		sub.Qoss = append(sub.Qoss, o.QoS)
	}
	if err := sub.Write(ss.nc); err != nil {
		return fmt.Errorf("send SUBSCRIBE: %w", err)
	}
	return nil
}

// readLoop parses packets in the read buffer and dispatches them.
func (ss *session) readLoop(ctx context.Context) error {
	for {
		hdr, err := ss.peek(ctx, 2)
		if err != nil {
			return err
		}
		length, size, need, err := remainingLength(hdr)
		for err == nil && need > 0 {
			if hdr, err = ss.peek(ctx, need); err == nil {
				length, size, need, err = remainingLength(hdr)
			}
		}
		if err != nil {
			return err
		}
		total := size + length
		switch {
		case total > ss.s.o.MaxPacket:
			err = ss.skipOversized(ctx, hdr[0], size, total)
		case total <= readBuffer:
			var pkt []byte
			if pkt, err = ss.peek(ctx, total); err == nil {
				err = ss.dispatch(pkt[0], pkt[size:])
				ss.r.Discard(total)
			}
		default:
			// Larger than the read buffer (and within MaxPacket): its own
			// allocation, and a fresh deadline for the long read.
			ss.s.o.Handler.Idle()
			ss.nc.SetReadDeadline(time.Now().Add(ss.s.o.KeepAlive * 3 / 2))
			if err := ctx.Err(); err != nil {
				return err // as in peek: the deadline just set could override the one that stops us
			}
			pkt := make([]byte, total)
			if _, err = io.ReadFull(ss.r, pkt); err == nil {
				err = ss.dispatch(pkt[0], pkt[size:])
			}
		}
		if err != nil {
			return err
		}
	}
}

// peek returns the next n buffered bytes, reading from the network if
// needed; before it waits, the handler hears it is idle.
func (ss *session) peek(ctx context.Context, n int) ([]byte, error) {
	if ss.r.Buffered() >= n {
		return ss.r.Peek(n)
	}
	ss.s.o.Handler.Idle()
	if ss.smallRead && ss.s.o.ReadCoalesce > 0 {
		time.Sleep(ss.s.o.ReadCoalesce)
	}
	ss.nc.SetReadDeadline(time.Now().Add(ss.s.o.KeepAlive * 3 / 2))
	if err := ctx.Err(); err != nil {
		return nil, err // the deadline just set could override the one that stops us
	}
	before := ss.r.Buffered()
	b, err := ss.r.Peek(n)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	ss.smallRead = ss.r.Buffered()-before < readBuffer/4
	return b, nil
}

// dispatch handles one packet; body is what follows the fixed header.
func (ss *session) dispatch(first byte, body []byte) error {
	switch first >> 4 {
	case typePublish:
		p, err := parsePublish(first&0x0f, body)
		if err != nil {
			return err
		}
		m := &ss.msg
		*m = Message{Topic: p.topic, Payload: p.payload, QoS: p.qos, Retained: p.retained, Duplicate: p.dup}
		switch p.qos {
		case 1:
			m.ack = Ack{gen: ss.gen, id: p.id, typ: typePuback}
		case 2:
			m.ack = Ack{gen: ss.gen, id: p.id, typ: typePubrec}
		}
		if p.qos > 0 {
			ss.outstanding.Add(1)
		}
		ss.s.m.received.Inc()
		ss.s.o.Handler.Message(m)
		return nil
	case typeSuback:
		if len(body) < 3 {
			return fmt.Errorf("%w: SUBACK of %d bytes", errProtocol, len(body))
		}
		for i, code := range body[2:] {
			if code == 0x80 && i < len(ss.s.o.Filters) {
				ss.s.refused.Store(true)
				ss.s.m.refused.Inc()
				ss.s.log.Error("the broker refused a subscription", "filter", ss.s.o.Filters[i])
			}
		}
		ss.s.ready.Store(true)
		return nil
	case typePubrel:
		// Second half of a QoS 2 delivery whose PUBREC we sent: complete it.
		if len(body) < 2 {
			return fmt.Errorf("%w: PUBREL of %d bytes", errProtocol, len(body))
		}
		ss.mu.Lock()
		ss.out = appendAck(ss.out, typePubcomp, binary.BigEndian.Uint16(body))
		ss.mu.Unlock()
		ss.signal()
		return nil
	case typePingresp, typePuback, typePubrec, typePubcomp, typeUnsuback:
		return nil // nothing to do: we publish nothing and unsubscribe from nothing
	default:
		return fmt.Errorf("%w: packet type %d from the broker", errProtocol, first>>4)
	}
}

// skipOversized reads past a packet larger than MaxPacket. A PUBLISH is
// acknowledged (so the broker does not send it forever) and counted.
func (ss *session) skipOversized(ctx context.Context, first byte, size, total int) error {
	if first>>4 != typePublish {
		return fmt.Errorf("%w: packet type %d of %d bytes", errProtocol, first>>4, total)
	}
	head, err := ss.peek(ctx, min(total, readBuffer))
	if err != nil {
		return err
	}
	p, err := parsePublish(first&0x0f, head[size:])
	if err != nil {
		return err
	}
	topic := string(p.topic)
	if _, err := ss.r.Discard(total); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	ss.s.m.dropped.WithLabelValues("too_large").Inc()
	if now := time.Now(); now.Sub(ss.lastDropLog) > 10*time.Second {
		ss.lastDropLog = now
		ss.s.log.Warn("message larger than the limit dropped", "topic", topic, "bytes", total, "limit", ss.s.o.MaxPacket)
	}
	if p.qos > 0 {
		ss.outstanding.Add(1)
		typ := byte(typePuback)
		if p.qos == 2 {
			typ = typePubrec
		}
		ss.s.Acknowledge([]Ack{{gen: ss.gen, id: p.id, typ: typ}})
	}
	return nil
}

func (ss *session) signal() {
	select {
	case ss.wake <- struct{}{}:
	default:
	}
	select {
	case ss.acked <- struct{}{}:
	default:
	}
}

// writeLoop sends what Acknowledge and dispatch queued, and a PINGREQ every
// half keep-alive. A failed write closes the connection, which ends the
// read loop.
func (ss *session) writeLoop() {
	defer close(ss.writerDone)
	t := time.NewTicker(ss.s.o.KeepAlive / 2)
	defer t.Stop()
	for {
		final := false
		select {
		case <-ss.wake:
		case <-t.C:
			ss.mu.Lock()
			ss.out = append(ss.out, 0xc0, 0) // PINGREQ
			ss.mu.Unlock()
		case <-ss.stop:
			final = true
		}
		ss.mu.Lock()
		buf := ss.out
		ss.out, ss.spare = ss.spare[:0], nil
		ss.mu.Unlock()
		if len(buf) > 0 {
			ss.nc.SetWriteDeadline(time.Now().Add(mqttx.OpTimeout))
			if _, err := ss.nc.Write(buf); err != nil {
				ss.s.log.Warn("mqtt write failed; closing the connection", "err", err)
				ss.nc.Close()
				return
			}
		}
		ss.mu.Lock()
		ss.spare = buf[:0]
		ss.mu.Unlock()
		if final {
			return
		}
	}
}

// drain, when Run's context ended, lets the handler acknowledge what it was
// given (bounded by DrainTimeout) and says DISCONNECT, so a clean stop does
// not make the broker deliver those messages again.
func (ss *session) drain() {
	ss.s.o.Handler.Idle()
	if !ss.waitAcknowledged() {
		ss.s.log.Warn("stopping with messages not yet acknowledged; the broker delivers them again",
			"messages", ss.outstanding.Load())
	}
	ss.mu.Lock()
	ss.out = append(ss.out, 0xe0, 0) // DISCONNECT
	ss.mu.Unlock()
}

// waitAcknowledged waits at most DrainTimeout until every delivered message
// is acknowledged, and reports whether it was.
func (ss *session) waitAcknowledged() bool {
	t := time.NewTimer(ss.s.o.DrainTimeout)
	defer t.Stop()
	for ss.outstanding.Load() > 0 {
		select {
		case <-ss.acked:
		case <-t.C:
			return false
		}
	}
	return true
}

// end stops the writer and closes the connection; later acknowledgements
// for it are stale. After a clean drain the writer first sends what is
// queued; after a failure the connection is closed at once, so a writer
// stuck on a dead peer returns.
func (ss *session) end(clean bool) {
	if !clean {
		ss.nc.Close()
	}
	close(ss.stop)
	<-ss.writerDone
	ss.mu.Lock()
	ss.closed = true
	ss.mu.Unlock()
	if err := ss.nc.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		ss.s.log.Debug("mqtt close", "err", err)
	}
}
