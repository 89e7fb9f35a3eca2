package testenv_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wait bounds every blocking step so a broken broker fails the test instead
// of hanging it; it is a safety net, not a timing assertion.
const wait = 30 * time.Second

// connect opens a paho client or fails the test; the client is closed at
// cleanup.
func connect(t *testing.T, b *testenv.Broker, clientID, user, password string, clean bool) mqtt.Client {
	t.Helper()
	c, err := tryConnect(b, clientID, user, password, clean)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(250) })
	return c
}

func tryConnect(b *testenv.Broker, clientID, user, password string, clean bool) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker(b.Addr()).SetClientID(clientID).
		SetUsername(user).SetPassword(password).SetCleanSession(clean).
		SetAutoReconnect(false).SetConnectRetry(false)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(wait) {
		return nil, fmt.Errorf("connect %s: timed out", clientID)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect %s: %w", clientID, err)
	}
	return c, nil
}

func subscribe(t *testing.T, c mqtt.Client, filter string) <-chan mqtt.Message {
	t.Helper()
	ch := make(chan mqtt.Message, 16)
	tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { ch <- m })
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return ch
}

func publish(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func receive(t *testing.T, ch <-chan mqtt.Message) mqtt.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(wait):
		t.Fatalf("no message within %v", wait)
		return nil
	}
}

func TestTestenvMosquittoQoS1(t *testing.T) {
	b := testenv.Mosquitto(t)
	sub := connect(t, b, "sub", "", "", true)
	ch := subscribe(t, sub, model.SubscriptionAll(model.SuffixBatch))
	pub := connect(t, b, "pub", "", "", true)
	topic := model.Topic("f1", "g1", model.SuffixBatch)
	publish(t, pub, topic, "hello")
	m := receive(t, ch)
	if m.Topic() != topic || string(m.Payload()) != "hello" || m.Qos() != 1 {
		t.Errorf("got %s %q qos %d", m.Topic(), m.Payload(), m.Qos())
	}
}

// TestTestenvMosquittoRestart checks that a message queued for an offline
// persistent session survives Stop and Start on the same port.
func TestTestenvMosquittoRestart(t *testing.T) {
	b := testenv.Mosquitto(t)
	filter := model.SubscriptionAll(model.SuffixBatch)
	sub, err := tryConnect(b, "collector-1", "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	subscribe(t, sub, filter)
	sub.Disconnect(250)

	pub, err := tryConnect(b, "pub", "", "", true)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, pub, model.Topic("f1", "g1", model.SuffixBatch), "queued")
	pub.Disconnect(250)

	addr := b.Addr()
	b.Stop()
	b.Start()
	if b.Addr() != addr {
		t.Fatalf("address changed across restart: %s, then %s", addr, b.Addr())
	}

	ch := make(chan mqtt.Message, 16)
	o := mqtt.NewClientOptions().AddBroker(b.Addr()).SetClientID("collector-1").SetCleanSession(false).
		SetAutoReconnect(false).SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { ch <- m })
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("reconnect: %v", tok.Error())
	}
	defer c.Disconnect(250)
	if m := receive(t, ch); string(m.Payload()) != "queued" {
		t.Errorf("got %q after restart, want the queued message", m.Payload())
	}
}

// TestTestenvMosquittoACL runs a broker with an ACL (WithACL) and users
// (WithUser): a gateway may only publish under its own facility and gateway
// ID, and the collector reads every gateway's batches. (The centre's broker
// binds identities with the dynamic-security plugin instead:
// internal/centrebroker tests deploy/'s configuration.)
func TestTestenvMosquittoACL(t *testing.T) {
	b := testenv.Mosquitto(t,
		testenv.WithACL(testenv.GatewayACLPattern,
			"user collector", "topic read cw/v1/+/+/batch", "topic read cw/v1/+/+/status", "topic write cw/v1/+/+/ack"),
		testenv.WithUser("f1", "gw-secret"),
		testenv.WithUser("collector", "col-secret"),
	)
	if _, err := tryConnect(b, "g1", "f1", "wrong", true); err == nil {
		t.Fatal("connected with a wrong password")
	}

	col := connect(t, b, "collector-1", "collector", "col-secret", true)
	batches := subscribe(t, col, model.SharedSubscription("collector", model.SuffixBatch))
	gw := connect(t, b, "g1", "f1", "gw-secret", true)
	// The broker handles one client's publishes in order, so if the allowed
	// message arrives first, the denied one before it was dropped.
	publish(t, gw, model.Topic("f2", "g1", model.SuffixBatch), "other facility")
	publish(t, gw, model.Topic("f1", "g9", model.SuffixBatch), "other gateway")
	publish(t, gw, model.Topic("f1", "g1", model.SuffixBatch), "own")
	if m := receive(t, batches); string(m.Payload()) != "own" {
		t.Errorf("collector got %q on %s, want only the gateway's own batch", m.Payload(), m.Topic())
	}

	acks := subscribe(t, gw, model.Topic("f1", "g1", model.SuffixAck))
	publish(t, col, model.Topic("f1", "g1", model.SuffixAck), "ack")
	if m := receive(t, acks); string(m.Payload()) != "ack" {
		t.Errorf("gateway got %q, want the collector's ack", m.Payload())
	}
}

func TestTestenvInflux(t *testing.T) {
	srv := testenv.Influx(t)
	ctx := t.Context()
	if err := srv.CreateDatabase(ctx, "cw"); err != nil {
		t.Fatal(err)
	}
	client := influxdb2.NewClient(srv.URL(), "")
	defer client.Close()
	write := client.WriteAPIBlocking("", "cw/autogen")
	at := time.UnixMilli(1_700_000_000_123)
	p := influxdb2.NewPoint("temperature",
		map[string]string{"facility": "f1", "room": "r1", "county": model.Region("110105001").County()},
		map[string]any{"value": 23.5}, at)
	if err := write.WritePoint(ctx, p); err != nil {
		t.Fatal(err)
	}

	res, err := srv.Query(ctx, "cw", `SELECT value, room FROM temperature WHERE county = '110105'`)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || len(res[0].Values) != 1 {
		t.Fatalf("got %+v, want one row", res)
	}
	row := res[0].Values[0]
	if fmt.Sprint(row[0]) != fmt.Sprint(at.UnixNano()) || fmt.Sprint(row[1]) != "23.5" || row[2] != "r1" {
		t.Errorf("row = %v", row)
	}
	n, err := srv.Count(ctx, "cw", `SELECT count(value) FROM temperature`)
	if err != nil || n != 1 {
		t.Errorf("count = %d, %v; want 1", n, err)
	}
	var qe *influxql.QueryError
	if _, err := srv.Query(ctx, "nope", `SELECT * FROM temperature`); !errors.As(err, &qe) {
		t.Errorf("query of a missing database: err = %v, want QueryError", err)
	}
}
