package gateway

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cradlewatch/cradlewatch/gateway/spool/powercut"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// sensorClient connects a sensor to the gateway's embedded broker.
func sensorClient(t *testing.T, addr, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(addr).SetClientID(id).SetAutoReconnect(false).
		SetWriteTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("sensor %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// The promise on the embedded broker, under a power cut: sensors publish
// (QoS 1) as fast as the broker acknowledges; the power fails during one of
// the spool's fsyncs; the box comes back (the spool opened again with the
// ordinary file layer). Every reading whose PUBACK a sensor received is in
// the spool, the spool opened cleanly, and its torn tail was repaired and
// counted. Readings carry no device time, so receipts are in play too.
func TestEmbeddedBrokerPowerCutLosesNothingAcknowledged(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { powerCutUnderLoad(t, seed) })
	}
}

func powerCutUnderLoad(t *testing.T, seed uint64) {
	const sensors, perSensor = 4, 1500
	r := newRig(t, sensors, 0).embedded()
	pc := powercut.New(powercut.Options{Seed: seed, Torn: true})
	g, _ := r.gateway(Options{SpoolFS: pc})
	stop := run(t, g)

	var mu sync.Mutex
	acked := map[int]bool{} // message numbers, each its own temperature
	cutAfter := 500 + int(seed)*300
	var wg sync.WaitGroup
	for s := range sensors {
		c := sensorClient(t, g.LocalAddr(), fmt.Sprintf("sensor-%d", s))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var toks []mqtt.Token
			var nums []int
			for i := range perSensor {
				n := s*perSensor + i
				topic, payload := z2m(s, -50+float64(n)/100)
				toks = append(toks, c.Publish(topic, 1, false, payload))
				nums = append(nums, n)
				if len(toks) < 50 && i < perSensor-1 {
					continue // a window of 50 in flight, as a busy bridge has
				}
				for k, tok := range toks {
					if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
						mu.Lock()
						acked[nums[k]] = true
						if len(acked) == cutAfter {
							pc.CutAtNextSync()
						}
						mu.Unlock()
					}
				}
				toks, nums = toks[:0], nums[:0]
				select {
				case <-pc.Done():
					return // the power is off: nothing is acknowledged any more
				default:
				}
			}
		}()
	}
	wg.Wait()
	<-pc.Done()
	stop()

	readings, reg := spoolReadings(t, r.cfg.Spool.Dir)
	found := map[int]bool{}
	for _, rd := range readings {
		if rd.Kind.String() == "temperature" {
			found[int(math.Round((rd.Value+50)*100))] = true
		}
	}
	lost := 0
	for n := range acked {
		if !found[n] {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged readings lost in the power cut", lost, len(acked))
	}
	if n := testenv.Metric(t, reg, "cw_gateway_spool_torn_tail_repairs_total"); n != 1 {
		t.Errorf("%v torn-tail repairs after a cut during an fsync, want 1", n)
	}
	t.Logf("seed %d: %d acknowledged, %d in the spool, cut %+v", seed, len(acked), len(found), pc.Report())
}

// completed reports whether a token has completed, without waiting
// (WaitTimeout(0) may answer either way when it has).
func completed(tok mqtt.Token) bool {
	select {
	case <-tok.Done():
		return true
	default:
		return false
	}
}

// eventually waits until cond holds, failing the test after a minute: a
// bound on a broken gateway, not a timing assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("gave up waiting: %s", what)
		}
	}
}

func (c *centre) received() []model.Batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]model.Batch(nil), c.batches...)
}

// A safety-relevant state change does not wait for the group commit: with
// spool.commit_interval at an hour, a door opening is fsynced at once
// (with what was queued before it) and reaches the centre in a batch of
// its own on the urgent lane; the samples queued with it go in a live
// batch. A repeated state waits for the group commit like any sample.
func TestUrgentStateChangeDoesNotWaitForTheGroupCommit(t *testing.T) {
	r := newRig(t, 1, 1).embedded()
	r.cfg.Spool.CommitInterval = time.Hour
	c := startCentre(t, r.centre.Addr())
	g, reg := r.gateway(Options{})
	run(t, g)
	sensor := sensorClient(t, g.LocalAddr(), "sensors")
	var samples []mqtt.Token
	for i := range 3 {
		topic, payload := z2m(0, 20+float64(i)/10)
		samples = append(samples, sensor.Publish(topic, 1, false, payload))
	}
	topic, payload := doorMsg(0, true)
	if tok := sensor.Publish(topic, 1, false, payload); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatalf("the door's PUBACK did not come: %v", tok.Error())
	}
	for _, tok := range samples {
		if !tok.WaitTimeout(time.Second) { // committed with the door, before it
			t.Fatal("a sample queued before the door was not acknowledged with it")
		}
	}
	eventually(t, "the door at the centre", func() bool {
		for _, b := range c.received() {
			if b.Lane == model.LaneUrgent {
				return true
			}
		}
		return false
	})
	eventually(t, "the samples at the centre", func() bool { return len(c.received()) >= 2 })
	for _, b := range c.received() {
		switch b.Lane {
		case model.LaneUrgent:
			if len(b.Readings) != 1 || b.Readings[0].Device != "door-0" || b.Readings[0].Kind != model.KindDoor || b.Readings[0].Value != 1 {
				t.Errorf("urgent batch carries %+v, want the door opening only", b.Readings)
			}
		case model.LaneLive:
			for _, rd := range b.Readings {
				if rd.Kind == model.KindDoor {
					t.Errorf("the door change went in a live batch: %+v", b.Readings)
				}
			}
		default:
			t.Errorf("a %v batch", b.Lane)
		}
	}

	// The same state again (a battery report): no change, no hurry.
	topic, payload = doorMsg(0, true)
	repeat := sensor.Publish(topic, 1, false, []byte(string(payload[:len(payload)-3])+"89}"))
	eventually(t, "the repeat taken", func() bool { return g.spool.Stats().Queued > 0 })
	if completed(repeat) {
		t.Error("a repeated state was acknowledged without the group commit")
	}
	// The door closes: urgent again, and the repeat goes with it.
	topic, payload = doorMsg(0, false)
	if tok := sensor.Publish(topic, 1, false, payload); !tok.WaitTimeout(time.Minute) || !repeat.WaitTimeout(time.Second) {
		t.Fatal("the closing door and the repeat before it were not acknowledged")
	}
	if n := testenv.Metric(t, reg, "cw_gateway_spool_immediate_commits_total"); n != 2 {
		t.Errorf("%v immediate commits, want 2 (open, close)", n)
	}
	if n := testenv.Metric(t, reg, "cw_gateway_readings_urgent_total"); n != 2 {
		t.Errorf("%v urgent readings, want 2", n)
	}
}

// The gateway dies between the fsync of a group and the PUBACKs it
// allows (a power cut right after the fsync): the sensors, which keep what
// was not acknowledged, send it again to the restarted gateway, marked DUP
// with the same packet IDs. Those messages are in the spool already, with
// their receipts; the new gateway rebuilds its memory from the spool's tail
// and does not store them again. Their readings carry no device time, so a
// second copy would be a second point: every acknowledged reading is in the
// spool exactly once.
func TestEmbeddedRestartAfterFsyncBeforePUBACK(t *testing.T) {
	const sensors, perSensor = 3, 400
	r := newRig(t, sensors, 0).embedded()
	pc := powercut.New(powercut.Options{})
	g1, _ := r.gateway(Options{SpoolFS: pc})
	r.cfg.Local.Embedded.Listen = g1.LocalAddr()[len("tcp://"):] // the restarted gateway's broker takes the same port
	stop1 := run(t, g1)

	var mu sync.Mutex
	acked := map[int]bool{}
	var wg sync.WaitGroup
	for s := range sensors {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(g1.LocalAddr()).SetClientID(fmt.Sprintf("sensor-%d", s)).
			SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
			SetConnectRetryInterval(20 * time.Millisecond).SetMaxReconnectInterval(50 * time.Millisecond))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		defer c.Disconnect(0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks := map[int]mqtt.Token{}
			for i := range perSensor {
				n := s*perSensor + i
				topic, payload := z2m(s, -50+float64(n)/100)
				toks[n] = c.Publish(topic, 1, false, payload)
				if len(toks) < 20 && i < perSensor-1 {
					continue
				}
				for n, tok := range toks {
					if tok.WaitTimeout(time.Minute) && tok.Error() == nil {
						mu.Lock()
						acked[n] = true
						if len(acked) == 300 {
							pc.CutAfterNextSync()
						}
						mu.Unlock()
					}
				}
				clear(toks)
			}
		}()
	}
	<-pc.Done()
	stop1()
	g2, g2reg := r.gateway(Options{}) // the power is back: the same spool, the same port
	run(t, g2)
	wg.Wait()
	eventually(t, "every reading durable", func() bool { return g2.spool.Stats().Queued == 0 })
	if n := testenv.Metric(t, g2reg, "cw_gateway_redeliveries_total", "outcome", redeliveryDuplicate); n == 0 {
		t.Error("no redelivery recognised: the messages fsynced before the cut were not sent again?")
	}
	g2.Close()

	readings, _ := spoolReadings(t, r.cfg.Spool.Dir)
	times := map[int]map[int64]bool{}
	for _, rd := range readings {
		if rd.Kind == model.KindTemperature {
			n := int(math.Round((rd.Value + 50) * 100))
			if times[n] == nil {
				times[n] = map[int64]bool{}
			}
			times[n][rd.Time.UnixMilli()] = true
		}
	}
	for n := range acked {
		if len(times[n]) == 0 {
			t.Errorf("acknowledged reading %d lost", n)
		}
	}
	for n, ts := range times {
		if len(ts) > 1 {
			t.Errorf("reading %d stored at %d times", n, len(ts))
		}
	}
	t.Logf("%d acknowledged, %d in the spool, %v redeliveries recognised", len(acked), len(times),
		testenv.Metric(t, g2reg, "cw_gateway_redeliveries_total", "outcome", redeliveryDuplicate))
}

// The embedded broker's PUBACKs leave in the order their messages arrived,
// as MQTT asks: a message with nothing to store (an unregistered device)
// behind one waiting for its fsync is acknowledged after it, not at once.
func TestEmbeddedPUBACKsInOrder(t *testing.T) {
	r := newRig(t, 1, 0).embedded()
	r.cfg.Spool.CommitInterval = 200 * time.Millisecond
	g, _ := r.gateway(Options{})
	run(t, g)
	sensor := sensorClient(t, g.LocalAddr(), "bridge")
	topic, payload := z2m(0, 21.5)
	stored := sensor.Publish(topic, 1, false, payload)
	unknown := sensor.Publish("zigbee2mqtt/not-in-the-facility-file", 1, false, `{"temperature":20}`)
	if !unknown.WaitTimeout(time.Minute) {
		t.Fatal("no PUBACK for the message of an unregistered device")
	}
	if !completed(stored) {
		t.Fatal("a later message's PUBACK came before an earlier one's")
	}
}
