package chaos

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// reading is one numbered reading the load published.
type reading struct {
	dev     int16
	timed   bool
	seq     int32
	stampMs int64        // timed: the last_seen the sensor sent
	pub     int64        // Unix ns just before Publish
	ack     atomic.Int64 // Unix ns when the PUBACK arrived; 0 without one
}

// sensor is a facility's Zigbee2MQTT: one MQTT client for every device,
// QoS 1 with a persistent session, sending its unacknowledged messages
// again (DUP) after a reconnect, as Zigbee2MQTT's client does.
type sensor struct {
	f      *facility
	c      *publisher
	loopWG sync.WaitGroup

	mu       sync.Mutex
	readings []*reading
	seq      []int32
	lastMs   []int64 // per device: the last stamp, so stamps increase
	alarms   []alarmPublish
	next     int // round robin over devices
}

// alarmPublish is a state message of an alarm device.
type alarmPublish struct {
	Device  string
	Value   int   // 1 alarm/open, 0 clear/closed
	StampMs int64 // its last_seen
	Pub     time.Time
	ack     *atomic.Int64
}

func newSensor(f *facility, addr, username, password string) (*sensor, error) {
	s := &sensor{f: f, seq: make([]int32, len(f.Devices)), lastMs: make([]int64, len(f.Devices)+2)}
	var err error
	s.c, err = dialPublisher(addr, "zigbee2mqtt-"+f.ID, username, password, 30*time.Second)
	return s, err
}

// stampLocked returns a millisecond stamp for device slot i, later than
// its previous one (two readings of a device in one millisecond would be
// one point).
func (s *sensor) stampLocked(i int, now time.Time) int64 {
	ms := now.UnixMilli()
	if ms <= s.lastMs[i] {
		ms = s.lastMs[i] + 1
	}
	s.lastMs[i] = ms
	return ms
}

// publishNext publishes the next device's next reading.
func (s *sensor) publishNext(counted bool) {
	s.mu.Lock()
	i := s.next
	s.next = (s.next + 1) % len(s.f.Devices)
	d := s.f.Devices[i]
	now := time.Now()
	r := &reading{dev: int16(i), timed: d.Timed}
	if counted {
		s.seq[i]++
		r.seq = s.seq[i]
	}
	payload := make([]byte, 0, 64)
	payload = append(payload, `{"co2":`...)
	payload = strconv.AppendInt(payload, int64(r.seq), 10)
	if d.Timed {
		r.stampMs = s.stampLocked(i, now)
		payload = append(payload, `,"last_seen":`...)
		payload = strconv.AppendInt(payload, r.stampMs, 10)
	}
	payload = append(payload, '}')
	r.pub = time.Now().UnixNano()
	if counted {
		s.readings = append(s.readings, r)
	}
	s.publish("zigbee2mqtt/"+d.Address, payload, &r.ack)
	s.mu.Unlock()
}

// warmup publishes a reading that is not counted (value 0): the gateway may
// not have subscribed yet.
func (s *sensor) warmup() { s.publishNext(false) }

// alarm publishes an alarm device's state, stamped (last_seen).
func (s *sensor) alarm(kind string, on bool) alarmPublish {
	addr, key, dev, slot := addrSmoke, "smoke", deviceSmoke, len(s.f.Devices)
	value := on
	if kind == IncidentDoor {
		addr, key, dev, slot = addrDoor, "contact", deviceDoor, len(s.f.Devices)+1
		value = !on // contact true means closed
	}
	s.mu.Lock()
	now := time.Now()
	a := alarmPublish{Device: dev, StampMs: s.stampLocked(slot, now), Pub: now, ack: new(atomic.Int64)}
	if on {
		a.Value = 1
	}
	s.alarms = append(s.alarms, a)
	s.publish("zigbee2mqtt/"+addr, fmt.Appendf(nil, `{%q:%v,"last_seen":%d}`, key, value, a.StampMs), a.ack)
	s.mu.Unlock()
	return a
}

// publish sends a message (in the order of the calls: the caller holds
// s.mu) and records its PUBACK in ack.
func (s *sensor) publish(topic string, payload []byte, ack *atomic.Int64) {
	_ = s.c.Publish(topic, payload, func(at time.Time) { ack.Store(at.UnixNano()) })
}

// run publishes rate readings a second until stop closes.
func (s *sensor) run(rate float64, stop <-chan struct{}) {
	s.loopWG.Add(1)
	go func() {
		defer s.loopWG.Done()
		start := time.Now()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var sent float64
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			due := time.Since(start).Seconds() * rate
			for ; sent < due; sent++ {
				s.publishNext(true)
			}
		}
	}()
}

// settle waits up to d for the outstanding PUBACKs, then disconnects.
func (s *sensor) settle(d time.Duration) {
	s.loopWG.Wait()
	end := time.Now().Add(d)
	for s.c.Pending() > 0 && time.Now().Before(end) {
		time.Sleep(50 * time.Millisecond)
	}
	s.c.Close()
}

// snapshot returns the published readings and alarm messages.
func (s *sensor) snapshot() ([]*reading, []alarmPublish) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*reading(nil), s.readings...), append([]alarmPublish(nil), s.alarms...)
}
