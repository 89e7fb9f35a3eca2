package gateway

import (
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// ackCutter is a TCP proxy between the gateway and its local broker that
// closes the connection when the gateway sends its first PUBACKs: the
// moment between the spool's fsync and the broker learning of it.
type ackCutter struct {
	ln     net.Listener
	broker string
	cuts   atomic.Int32
	wg     sync.WaitGroup
}

func newAckCutter(t *testing.T, broker string) *ackCutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &ackCutter{ln: ln, broker: broker}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *ackCutter) addr() string { return "tcp://" + p.ln.Addr().String() }

func (p *ackCutter) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.broker)
		if err != nil {
			c.Close()
			continue
		}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(c, b); c.Close() }()
		go func() { defer p.wg.Done(); p.upstream(c, b); b.Close(); c.Close() }()
	}
}

// upstream copies the gateway's packets to the broker, but the first time
// it sees a PUBACK it closes both sides instead of passing it on.
func (p *ackCutter) upstream(c, b net.Conn) {
	buf := make([]byte, 0, 64<<10)
	tmp := make([]byte, 32<<10)
	for {
		n, err := c.Read(tmp)
		if err != nil {
			return
		}
		buf = append(buf, tmp[:n]...)
		for {
			size, ok := packetSize(buf)
			if !ok {
				break
			}
			if buf[0]>>4 == 4 && p.cuts.CompareAndSwap(0, 1) { // PUBACK
				return
			}
			if _, err := b.Write(buf[:size]); err != nil {
				return
			}
			buf = append(buf[:0], buf[size:]...)
		}
	}
}

// packetSize returns the size of the MQTT packet at the start of b, if b
// holds all of it.
func packetSize(b []byte) (int, bool) {
	n, mul := 0, 1
	for i := 1; i < len(b) && i <= 4; i++ {
		n += int(b[i]&0x7f) * mul
		if b[i]&0x80 == 0 {
			return 1 + i + n, len(b) >= 1+i+n
		}
		mul *= 128
	}
	return 0, false
}

// On an external broker (real Mosquitto), the connection drops after the
// gateway fsynced a group and before its PUBACKs arrive: Mosquitto delivers
// those messages again (DUP, same packet IDs) on the next connection. They
// carry no device time, so storing them again would make second points a
// second later; the gateway recognises them and the centre gets every
// reading exactly once.
func TestRedeliveryAfterAConnectionDropIsNotStoredAgain(t *testing.T) {
	mosq := testenv.Mosquitto(t)
	cut := newAckCutter(t, mosq.Addr()[len("tcp://"):])
	r := newRig(t, 4, 0)
	r.cfg.Local.MQTT.Broker, r.cfg.Local.MQTT.ClientID = cut.addr(), "gw-1-local"
	r.cfg.Spool.CommitInterval = 50 * time.Millisecond
	c := startCentre(t, r.centre.Addr())
	g, reg := r.gateway(Options{})
	run(t, g)

	sensor := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mosq.Addr()).SetClientID("sensors"))
	if tok := sensor.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sensor.Disconnect(0)
	// The gateway's session exists once it has subscribed: connected (so
	// Run has registered the readiness check) and ready (SUBACK).
	eventually(t, "the gateway subscribed", func() bool {
		return testenv.Metric(t, reg, "cw_gateway_local_connected") == 1 && g.ready.Check() == nil
	})
	const n = 400
	for i := range n {
		topic, payload := z2m(i%4, -50+float64(i)/100)
		if tok := sensor.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	eventually(t, "a redelivery recognised", func() bool {
		return testenv.Metric(t, reg, "cw_gateway_redeliveries_total", "outcome", redeliveryDuplicate) > 0
	})
	// Mosquitto sends the redeliveries first on a new connection: once a
	// last message is through, so are they.
	topic, payload := z2m(0, 99)
	if tok := sensor.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	eventually(t, "every reading at the centre", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return countKind(c.readings, model.KindTemperature) >= n+1
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	// The centre may see a batch twice (a resend); what counts is what
	// InfluxDB would keep: one point per reading, so one time per value.
	times := map[int]map[int64]bool{}
	for _, rd := range c.readings {
		if rd.Kind == model.KindTemperature {
			v := int(math.Round((rd.Value + 50) * 100))
			if times[v] == nil {
				times[v] = map[int64]bool{}
			}
			times[v][rd.Time.UnixMilli()] = true
		}
	}
	for i := range n {
		switch len(times[i]) {
		case 0:
			t.Errorf("reading %d lost", i)
		case 1:
		default:
			t.Errorf("reading %d stored at %d different times: %v", i, len(times[i]), times[i])
		}
	}
}

func countKind(rs []model.Reading, k model.Kind) int {
	n := 0
	for _, r := range rs {
		if r.Kind == k {
			n++
		}
	}
	return n
}
