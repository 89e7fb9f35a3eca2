package pathbench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// A minimal MQTT 3.1.1 publisher for the load generator. The harness shares
// two cores with the processes it measures, so the generator must be cheap:
// it writes QoS 1 PUBLISH packets straight into a buffered socket, keeps at
// most Window of them unacknowledged, and counts PUBACKs on a reader
// goroutine. It does no reconnect: a lost connection fails the run.

// MQTT 3.1.1 control packet first bytes (type << 4 | flags).
const (
	pktConnect    = 0x10
	pktConnack    = 0x20
	pktPublishQoS = 0x32 // PUBLISH, QoS 1, no DUP, no RETAIN
	pktPuback     = 0x40
	pktDisconnect = 0xE0
)

// dialTimeout bounds connecting and the CONNACK wait.
const dialTimeout = 10 * time.Second

// ErrRefused is returned by DialPublisher when the broker's CONNACK refuses
// the connection.
var ErrRefused = errors.New("pathbench: broker refused the connection")

// Publisher is one MQTT connection that publishes with QoS 1. Publish and
// Close must be called from one goroutine.
type Publisher struct {
	conn   net.Conn
	bw     *bufio.Writer
	window chan struct{} // one token per unacknowledged PUBLISH
	nextID uint16
	acked  atomic.Int64
	done   chan struct{} // closed when the reader ends
	err    atomic.Pointer[error]
	pkt    []byte
}

// DialPublisher connects to addr (host:port) with a clean session and
// returns once the broker accepted the connection. window bounds the
// PUBLISH packets in flight (1..65535).
func DialPublisher(ctx context.Context, addr, clientID string, window int) (*Publisher, error) {
	if window < 1 || window > 65535 {
		return nil, fmt.Errorf("pathbench: publisher window %d: want 1..65535", window)
	}
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pathbench: dial %s: %w", addr, err)
	}
	p := &Publisher{conn: conn, bw: bufio.NewWriterSize(conn, 64<<10), window: make(chan struct{}, window), done: make(chan struct{})}
	if err := p.handshake(clientID); err != nil {
		conn.Close()
		return nil, err
	}
	go p.readAcks()
	return p, nil
}

// handshake sends CONNECT (clean session, no keep-alive: the generator
// either publishes continuously or is done) and reads the CONNACK.
func (p *Publisher) handshake(clientID string) error {
	var body []byte
	body = appendString(body, "MQTT")
	body = append(body, 4, 0x02, 0, 0) // level 3.1.1, clean session, keep-alive 0
	body = appendString(body, clientID)
	pkt := appendLength(append([]byte(nil), pktConnect), len(body))
	if _, err := p.conn.Write(append(pkt, body...)); err != nil {
		return fmt.Errorf("pathbench: connect: %w", err)
	}
	if err := p.conn.SetReadDeadline(time.Now().Add(dialTimeout)); err != nil {
		return fmt.Errorf("pathbench: connect: %w", err)
	}
	var ack [4]byte
	if _, err := io.ReadFull(p.conn, ack[:]); err != nil {
		return fmt.Errorf("pathbench: read CONNACK: %w", err)
	}
	if ack[0] != pktConnack || ack[1] != 2 {
		return fmt.Errorf("pathbench: want CONNACK, got packet % x", ack)
	}
	if ack[3] != 0 {
		return fmt.Errorf("%w: return code %d", ErrRefused, ack[3])
	}
	return p.conn.SetReadDeadline(time.Time{})
}

// readAcks consumes PUBACKs, giving back one window token for each. Any
// other packet, or a read error, ends the connection's usefulness.
func (p *Publisher) readAcks() {
	defer close(p.done)
	br := bufio.NewReaderSize(p.conn, 16<<10)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			p.fail(fmt.Errorf("pathbench: read PUBACK: %w", err))
			return
		}
		if hdr[0] != pktPuback || hdr[1] != 2 {
			p.fail(fmt.Errorf("pathbench: unexpected packet % x from the broker", hdr))
			return
		}
		p.acked.Add(1)
		select {
		case <-p.window:
		default:
			p.fail(errors.New("pathbench: PUBACK without a PUBLISH in flight"))
			return
		}
	}
}

func (p *Publisher) fail(err error) {
	p.err.CompareAndSwap(nil, &err)
}

// Err is the first error of the connection, nil while it is healthy.
func (p *Publisher) Err() error {
	if e := p.err.Load(); e != nil {
		return *e
	}
	return nil
}

// Acked is how many PUBLISH packets the broker acknowledged.
func (p *Publisher) Acked() int64 { return p.acked.Load() }

// Publish queues one QoS 1 message. It blocks, after flushing what is
// buffered, while Window messages are unacknowledged.
func (p *Publisher) Publish(ctx context.Context, topic string, payload []byte) error {
	select {
	case p.window <- struct{}{}:
	default:
		if err := p.bw.Flush(); err != nil {
			return fmt.Errorf("pathbench: publish: %w", err)
		}
		select {
		case p.window <- struct{}{}:
		case <-p.done:
			return p.deadErr()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.nextID++
	if p.nextID == 0 { // packet identifier 0 is not allowed
		p.nextID = 1
	}
	p.pkt = appendPublish(p.pkt[:0], topic, p.nextID, payload)
	if _, err := p.bw.Write(p.pkt); err != nil {
		return fmt.Errorf("pathbench: publish: %w", err)
	}
	return nil
}

func (p *Publisher) deadErr() error {
	if err := p.Err(); err != nil {
		return err
	}
	return errors.New("pathbench: connection closed")
}

// Drain flushes and waits until every message is acknowledged.
func (p *Publisher) Drain(ctx context.Context) error {
	if err := p.bw.Flush(); err != nil {
		return fmt.Errorf("pathbench: drain: %w", err)
	}
	for i := 0; i < cap(p.window); i++ {
		select {
		case p.window <- struct{}{}:
		case <-p.done:
			return p.deadErr()
		case <-ctx.Done():
			return fmt.Errorf("pathbench: drain: %w", ctx.Err())
		}
	}
	for i := 0; i < cap(p.window); i++ {
		<-p.window
	}
	return nil
}

// Close sends DISCONNECT and closes the connection.
func (p *Publisher) Close() error {
	_, _ = p.bw.Write([]byte{pktDisconnect, 0})
	_ = p.bw.Flush()
	err := p.conn.Close()
	<-p.done
	return err
}

// appendPublish encodes a QoS 1 PUBLISH packet.
func appendPublish(dst []byte, topic string, id uint16, payload []byte) []byte {
	dst = append(dst, pktPublishQoS)
	dst = appendLength(dst, 2+len(topic)+2+len(payload))
	dst = appendString(dst, topic)
	dst = binary.BigEndian.AppendUint16(dst, id)
	return append(dst, payload...)
}

// appendString writes an MQTT UTF-8 string: 16-bit length, then bytes.
func appendString(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// appendLength writes MQTT's variable-length "remaining length".
func appendLength(dst []byte, n int) []byte {
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		dst = append(dst, b)
		if n == 0 {
			return dst
		}
	}
}
