package chaos

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// publisher is a sensor's MQTT 3.1.1 connection, as Zigbee2MQTT's client
// behaves: QoS 1 with a persistent session, unacknowledged messages kept
// and sent again (DUP, same packet ID) after every reconnect. It records
// the moment each PUBACK arrives: that is when a reading is accepted.
//
// It is not paho because paho completes the token of an in-flight message
// without an error when it sends the message again after a reconnect
// (paho.mqtt.golang issue #563, docs/PITFALLS): a harness waiting on
// tokens would count as accepted what no broker acknowledged.
type publisher struct {
	addr, clientID, user, pass string

	mu       sync.Mutex
	conn     net.Conn
	bw       *bufio.Writer
	inflight map[uint16]*outMsg
	queue    []*outMsg // in publish order; acknowledged ones are skipped and compacted
	nextID   uint16
	closed   bool
	wake     chan struct{}
	done     chan struct{}
}

// outMsg is a message waiting for its PUBACK.
type outMsg struct {
	id      uint16
	topic   string
	payload []byte
	acked   bool
	onAck   func(at time.Time)
}

// MQTT 3.1.1 control packet first bytes (type << 4 | flags).
const (
	mqttConnect    = 0x10
	mqttConnack    = 0x20
	mqttPublishQoS = 0x32 // PUBLISH, QoS 1
	mqttDup        = 0x08
	mqttPuback     = 0x40
	mqttDisconnect = 0xE0
)

// Reconnect back-off of a publisher.
const (
	reconnectMin = 100 * time.Millisecond
	reconnectMax = time.Second
	dialTimeout  = 5 * time.Second
)

// dialPublisher connects (waiting up to wait for the first connection) and
// keeps the connection up until Close.
func dialPublisher(addr, clientID, user, pass string, wait time.Duration) (*publisher, error) {
	p := &publisher{addr: addr, clientID: clientID, user: user, pass: pass, inflight: map[uint16]*outMsg{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	end := time.Now().Add(wait)
	for {
		err := p.connect()
		if err == nil {
			break
		}
		if time.Now().After(end) {
			return nil, fmt.Errorf("chaos: %s: connect %s: %w", clientID, addr, err)
		}
		time.Sleep(reconnectMin)
	}
	go p.run()
	return p, nil
}

// connect dials, sends CONNECT (persistent session, no keep-alive: the
// sensor publishes all the time) and, once the broker accepted, sends
// every unacknowledged message again with DUP set.
func (p *publisher) connect() error {
	conn, err := net.DialTimeout("tcp", p.addr, dialTimeout)
	if err != nil {
		return err
	}
	var body []byte
	body = mqttString(body, "MQTT")
	flags := byte(0x00) // clean session 0
	if p.user != "" {
		flags |= 0x80 | 0x40
	}
	body = append(body, 4, flags, 0, 0) // level 3.1.1, keep-alive 0
	body = mqttString(body, p.clientID)
	if p.user != "" {
		body = mqttString(body, p.user)
		body = mqttString(body, p.pass)
	}
	pkt := mqttLength([]byte{mqttConnect}, len(body))
	_ = conn.SetDeadline(time.Now().Add(dialTimeout))
	if _, err := conn.Write(append(pkt, body...)); err != nil {
		conn.Close()
		return err
	}
	var ack [4]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		conn.Close()
		return err
	}
	if ack[0] != mqttConnack || ack[3] != 0 {
		conn.Close()
		return fmt.Errorf("CONNACK % x: refused", ack)
	}
	_ = conn.SetDeadline(time.Time{})
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		conn.Close()
		return errors.New("closed")
	}
	p.conn, p.bw = conn, bufio.NewWriterSize(conn, 32<<10)
	live := p.queue[:0]
	for _, m := range p.queue {
		if m.acked {
			continue
		}
		live = append(live, m)
		p.writeLocked(m, true)
	}
	clear(p.queue[len(live):])
	p.queue = live
	go p.read(conn)
	p.flushLocked()
	return nil
}

// run reconnects whenever the connection drops, until Close.
func (p *publisher) run() {
	defer close(p.done)
	backoff := reconnectMin
	for {
		<-p.wake
		p.mu.Lock()
		closed, up := p.closed, p.conn != nil
		p.mu.Unlock()
		if closed {
			return
		}
		if up {
			continue
		}
		for {
			if err := p.connect(); err == nil {
				backoff = reconnectMin
				break
			}
			p.mu.Lock()
			closed = p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			time.Sleep(backoff)
			backoff = min(2*backoff, reconnectMax)
		}
	}
}

// read handles PUBACKs until the connection fails.
func (p *publisher) read(conn net.Conn) {
	br := bufio.NewReaderSize(conn, 16<<10)
	for {
		typ, err := br.ReadByte()
		if err != nil {
			break
		}
		n, err := mqttReadLength(br)
		if err != nil {
			break
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			break
		}
		if typ&0xF0 == mqttPuback && n >= 2 {
			p.acked(binary.BigEndian.Uint16(body), time.Now())
		}
	}
	p.mu.Lock()
	if p.conn == conn {
		p.dropLocked()
	}
	p.mu.Unlock()
}

func (p *publisher) acked(id uint16, at time.Time) {
	p.mu.Lock()
	m := p.inflight[id]
	delete(p.inflight, id)
	if m != nil {
		m.acked = true
	}
	p.mu.Unlock()
	if m != nil && m.onAck != nil {
		m.onAck(at)
	}
}

// dropLocked closes the connection and asks run to reconnect.
func (p *publisher) dropLocked() {
	if p.conn != nil {
		p.conn.Close()
		p.conn, p.bw = nil, nil
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Publish sends a QoS 1 message now, or after the reconnect when the
// connection is down; onAck runs when its PUBACK arrives.
func (p *publisher) Publish(topic string, payload []byte, onAck func(at time.Time)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("chaos: publisher closed")
	}
	if len(p.inflight) >= 60000 {
		return errors.New("chaos: 60,000 messages unacknowledged")
	}
	for {
		p.nextID++
		if p.nextID != 0 && p.inflight[p.nextID] == nil {
			break
		}
	}
	m := &outMsg{id: p.nextID, topic: topic, payload: payload, onAck: onAck}
	p.inflight[m.id] = m
	p.queue = append(p.queue, m)
	if len(p.queue) > 4*len(p.inflight)+1024 {
		live := p.queue[:0]
		for _, q := range p.queue {
			if !q.acked {
				live = append(live, q)
			}
		}
		clear(p.queue[len(live):])
		p.queue = live
	}
	if p.conn != nil {
		p.writeLocked(m, false)
		p.flushLocked()
	}
	return nil
}

// flushLocked writes what is buffered, dropping the connection when the
// broker does not take it within writeTimeout.
func (p *publisher) flushLocked() {
	_ = p.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := p.bw.Flush(); err != nil {
		p.dropLocked()
	}
}

// writeTimeout bounds a write to a broker that stopped reading.
const writeTimeout = 10 * time.Second

// writeLocked buffers m's PUBLISH; a write error shows at the flush.
func (p *publisher) writeLocked(m *outMsg, dup bool) {
	first := byte(mqttPublishQoS)
	if dup {
		first |= mqttDup
	}
	n := 2 + len(m.topic) + 2 + len(m.payload)
	hdr := mqttLength([]byte{first}, n)
	_, _ = p.bw.Write(hdr)
	_, _ = p.bw.Write([]byte{byte(len(m.topic) >> 8), byte(len(m.topic))})
	_, _ = p.bw.WriteString(m.topic)
	_, _ = p.bw.Write([]byte{byte(m.id >> 8), byte(m.id)})
	_, _ = p.bw.Write(m.payload)
}

// Pending is how many messages wait for their PUBACK.
func (p *publisher) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inflight)
}

// Close disconnects and stops reconnecting; what is unacknowledged stays
// so.
func (p *publisher) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.conn != nil {
		_, _ = p.conn.Write([]byte{mqttDisconnect, 0})
	}
	p.dropLocked()
	p.mu.Unlock()
	<-p.done
}

func mqttString(b []byte, s string) []byte {
	return append(append(b, byte(len(s)>>8), byte(len(s))), s...)
}

// mqttLength appends MQTT's variable-length remaining length.
func mqttLength(b []byte, n int) []byte {
	for {
		c := byte(n % 128)
		n /= 128
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

func mqttReadLength(r io.ByteReader) (int, error) {
	n, mul := 0, 1
	for range 4 {
		c, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n += int(c&0x7F) * mul
		if c&0x80 == 0 {
			return n, nil
		}
		mul *= 128
	}
	return 0, errors.New("malformed remaining length")
}
