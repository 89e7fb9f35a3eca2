package chaos

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cradlewatch/cradlewatch/model"
)

// markerForged is the value of every reading a hostile act or a malformed
// message tries to get stored, on a device registered for it (co2-flood):
// any stored reading of that device is one that got through. It is above
// every sequence number of the load.
const markerForged = 49_999

// deviceFlood is the device hostile and malformed messages name.
const (
	deviceFlood = "co2-flood"
	addrFlood   = "room-1/flood"
)

// hostileResult is what the hostile facility tried and what happened.
type hostileResult struct {
	Attempts []string // each attack and its outcome
	GotIn    []string // attacks that were not refused
	// Denials counted by the centre's watcher during the attack, by
	// action, and session takeovers it saw.
	Denied     map[string]float64
	Takeovers  float64
	Publishes  int // forged publishes on topics the account may not use
	Subscribes int // refused subscriptions tried
}

// attack has the hostile facility's gateway account try, on the centre's
// broker: another gateway's client ID (a session takeover that would fire
// the victim's last will), the collectors' share group and wildcards (to
// swallow other facilities' batches), a last will and publishes on another
// facility's topics (forged readings, a forged offline status, a forged
// command), and a batch on its own topic that names another facility.
func (r *run) attack(ctx context.Context, hold time.Duration) (string, error) {
	victim := r.facilities[0]
	res := &hostileResult{Denied: map[string]float64{}}
	before := r.brokerCounters()
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(r.centre.caFile)
	if err != nil {
		return "", err
	}
	pool.AppendCertsFromPEM(pem)
	opts := func(clientID string) *mqtt.ClientOptions {
		return mqtt.NewClientOptions().AddBroker("ssl://" + r.centre.tlsAddr()).SetClientID(clientID).
			SetUsername(r.hostile.Gateway).SetPassword(r.hostile.Password).SetTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}).
			SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
	}
	got := func(what string, ok bool) {
		outcome := "refused"
		if ok {
			outcome = "GOT THROUGH"
			res.GotIn = append(res.GotIn, what)
		}
		res.Attempts = append(res.Attempts, what+": "+outcome)
	}

	// 1. Another gateway's client ID with the hostile account.
	c := mqtt.NewClient(opts(victim.Gateway))
	tok := c.Connect()
	tok.WaitTimeout(15 * time.Second)
	got("connect as "+victim.Gateway+" (session takeover)", tok.Error() == nil && c.IsConnectionOpen())
	c.Disconnect(0)

	// 2. A last will on the victim's status topic (a forged "offline").
	victimStatus := model.Topic(victim.ID, victim.Gateway, model.SuffixStatus)
	forgedOffline := model.EncodeStatus(model.Status{Gateway: victim.Gateway, Facility: victim.ID, Region: region, State: model.GatewayOffline})
	o := opts(r.hostile.Gateway).SetBinaryWill(victimStatus, forgedOffline, 1, true)
	c = mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return "", fmt.Errorf("hostile facility: its own account cannot connect: %v", tok.Error())
	}

	// 3. Subscriptions: the collectors' share group, wildcards, another
	// gateway's acks.
	for _, filter := range []string{
		model.SharedSubscription("cw-collector", model.SuffixBatch),
		model.SubscriptionAll(model.SuffixBatch),
		"cw/v1/#",
		model.Topic(victim.ID, victim.Gateway, model.SuffixAck),
		"cw/ctl/#",
	} {
		st := c.Subscribe(filter, 1, func(mqtt.Client, mqtt.Message) {})
		st.WaitTimeout(10 * time.Second)
		granted := false
		if s, ok := st.(*mqtt.SubscribeToken); ok && st.Error() == nil {
			code, found := s.Result()[filter]
			granted = found && code < 0x80
		}
		res.Subscribes++
		got("subscribe "+filter, granted)
	}

	// 4. Publishes on the victim's topics: a forged batch with a reading of
	// the victim's device, a forged offline status, a forged command; and
	// on its own topic a batch that names the victim.
	forged := model.Batch{Gateway: victim.Gateway, Facility: victim.ID, Region: region, First: 1 << 40, Span: 1, Sent: time.Now(),
		Readings: []model.Reading{{Device: deviceFlood, Room: roomSensors, Kind: model.KindCO2, Time: time.Now(), Value: markerForged}}}
	for _, p := range []struct {
		what, topic string
		payload     []byte
		retain      bool
		denied      bool
	}{
		{"publish a batch into " + victim.ID, model.Topic(victim.ID, victim.Gateway, model.SuffixBatch), model.EncodeBatch(nil, &forged), false, true},
		{"publish an offline status for " + victim.Gateway, victimStatus, forgedOffline, true, true},
		{"publish a command on cw/ctl", "cw/ctl/v1/0/cmd/" + victim.ID, []byte(`{"kind":"ack"}`), false, true},
		{"publish a batch naming " + victim.ID + " on its own topic", model.Topic(r.hostile.ID, r.hostile.Gateway, model.SuffixBatch), model.EncodeBatch(nil, &forged), false, false},
	} {
		pt := c.Publish(p.topic, 1, p.retain, p.payload)
		pt.WaitTimeout(10 * time.Second)
		if p.denied {
			res.Publishes++
		}
		// MQTT 3.1.1 acknowledges a refused publish: whether it got through
		// shows in the broker's denials and in InfluxDB (checked after the
		// run, markerForged).
		res.Attempts = append(res.Attempts, p.what+": sent (PUBACK "+fmt.Sprint(pt.Error() == nil)+")")
	}
	sleep(ctx, hold)
	c.Disconnect(250)

	// Give the watcher time to read the broker's log.
	deadline := time.Now().Add(15 * time.Second)
	var after map[string]float64
	for {
		after = r.brokerCounters()
		if after["publish"]-before["publish"] >= float64(res.Publishes) && after["will"]-before["will"] >= 1 || time.Now().After(deadline) {
			break
		}
		sleep(ctx, 200*time.Millisecond)
	}
	for _, a := range []string{"publish", "subscribe", "connect", "will"} {
		res.Denied[a] = after[a] - before[a]
	}
	res.Takeovers = after["takeovers"] - before["takeovers"]
	if res.Denied["publish"] < float64(res.Publishes) {
		res.GotIn = append(res.GotIn, fmt.Sprintf("%d refused publishes, %v counted by the broker's watcher", res.Publishes, res.Denied["publish"]))
	}
	if res.Denied["will"] < 1 {
		res.GotIn = append(res.GotIn, "the forged last will was not counted")
	}
	r.hostileResults = append(r.hostileResults, res)
	note := fmt.Sprintf("%d attempts; denied: publish %v, subscribe %v, connect %v, will %v; takeovers %v",
		len(res.Attempts), res.Denied["publish"], res.Denied["subscribe"], res.Denied["connect"], res.Denied["will"], res.Takeovers)
	if len(res.GotIn) > 0 {
		note += "; GOT THROUGH: " + strings.Join(res.GotIn, "; ")
	}
	return note, nil
}

// brokerCounters reads the centre watcher's refusal counters.
func (r *run) brokerCounters() map[string]float64 {
	out := map[string]float64{}
	for _, a := range []string{"publish", "subscribe", "connect", "will"} {
		v, _ := metrics(r.centre.metricsAddr, "cw_broker_denied_total", `action="`+a+`"`)
		out[a] = v
	}
	out["takeovers"], _ = metrics(r.centre.metricsAddr, "cw_broker_session_takeovers_total")
	return out
}
