package centrebroker_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cradlewatch/cradlewatch/internal/centrebroker"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// wait bounds every blocking step so a broken broker fails the test instead
// of hanging it; it is a safety net, not a timing assertion.
const wait = 30 * time.Second

// centre is the centre's broker of testenv.Centre.
type centre struct{ *testenv.CentreBroker }

// Passwords of the test accounts.
var passwords = map[string]string{
	centrebroker.CollectorUser:   "col-secret",
	centrebroker.AlertingUser(0): "alert0-secret",
	centrebroker.AlertingUser(1): "alert1-secret",
	centrebroker.ConsoleUser(0):  "console0-secret",
	centrebroker.ConsoleUser(1):  "console1-secret",
	"gw-f1-a":                    "gw1-secret",
	"gw-f2-a":                    "gw2-secret",
}

func writeRegistry(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		// gateways: at the top level, as the registry writes it.
		"f1.yaml": "facility:\n  id: f1\n  name: 一号园\n  region: \"110105001\"\ngateways: [gw-f1-a]\nrooms: []\n",
		// the mapping form, under facility:.
		"f2.yaml":   "facility:\n  id: f2\n  region: \"110105002\"\n  gateways:\n    - id: gw-f2-a\n",
		"notes.txt": "not a facility file",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func startCentre(t *testing.T) *centre {
	t.Helper()
	facilities, err := centrebroker.LoadFacilities(writeRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	return &centre{testenv.CentreWith(t, centrebroker.Options{Facilities: facilities, Passwords: passwords, Shards: 2, Consoles: 2})}
}

// client is a paho connection and what it received, by topic suffix.
type client struct {
	mqtt.Client
	got  chan mqtt.Message
	lost chan error
}

type connOpts struct {
	id, user, password string
	tls                bool
	will               string // topic of a last will "offline", if any
}

func (c *centre) dial(o connOpts) (*client, error) {
	cl := &client{got: make(chan mqtt.Message, 256), lost: make(chan error, 1)}
	addr := c.PlainAddr
	po := mqtt.NewClientOptions().SetClientID(o.id).SetUsername(o.user).SetPassword(o.password).
		// MQTT 3.1.1 only: paho otherwise retries a refused CONNECT as 3.1.
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetCleanSession(true).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { cl.got <- m }).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { cl.lost <- err })
	if o.tls {
		addr = c.TLSAddr
		po.SetTLSConfig(&tls.Config{RootCAs: c.CAPool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	}
	if o.will != "" {
		po.SetWill(o.will, `{"v":1,"state":"offline"}`, 1, true)
	}
	po.AddBroker(addr)
	cl.Client = mqtt.NewClient(po)
	tok := cl.Connect()
	if !tok.WaitTimeout(wait) {
		return nil, errors.New("connect timed out")
	}
	return cl, tok.Error()
}

// refuseConnects fails t if any of the connections is accepted.
func (c *centre) refuseConnects(t *testing.T, opts ...connOpts) {
	t.Helper()
	for _, o := range opts {
		if cl, err := c.dial(o); err == nil {
			cl.Disconnect(0)
			t.Fatalf("%s connected with client ID %s (TLS %v)", o.user, o.id, o.tls)
		}
	}
}

func (c *centre) connect(t *testing.T, o connOpts) *client {
	t.Helper()
	cl, err := c.dial(o)
	if err != nil {
		t.Fatalf("connect %s as %s: %v", o.id, o.user, err)
	}
	t.Cleanup(func() { cl.Disconnect(250) })
	return cl
}

// subscribe returns the SUBACK code of each filter (128: refused).
func (cl *client) subscribe(t *testing.T, filters ...string) map[string]byte {
	t.Helper()
	m := map[string]byte{}
	for _, f := range filters {
		m[f] = 1
	}
	tok := cl.SubscribeMultiple(m, nil)
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("subscribe %v: %v", filters, tok.Error())
	}
	return tok.(*mqtt.SubscribeToken).Result()
}

func (cl *client) publish(t *testing.T, topic, payload string, retained bool) {
	t.Helper()
	tok := cl.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// next returns the next message received, failing after wait.
func (cl *client) next(t *testing.T) mqtt.Message {
	t.Helper()
	select {
	case m := <-cl.got:
		return m
	case <-time.After(wait):
		t.Fatalf("no message within %v", wait)
		return nil
	}
}

// expect reads the next message and checks its topic and payload.
func (cl *client) expect(t *testing.T, who, topic, payload string) {
	t.Helper()
	if m := cl.next(t); m.Topic() != topic || string(m.Payload()) != payload {
		t.Fatalf("%s got %s %q, want %s %q", who, m.Topic(), m.Payload(), topic, payload)
	}
}

var (
	f1Batch  = model.Topic("f1", "gw-f1-a", model.SuffixBatch)
	f1Status = model.Topic("f1", "gw-f1-a", model.SuffixStatus)
	f1Ack    = model.Topic("f1", "gw-f1-a", model.SuffixAck)
	f2Batch  = model.Topic("f2", "gw-f2-a", model.SuffixBatch)
	f2Ack    = model.Topic("f2", "gw-f2-a", model.SuffixAck)
)

// TestCentreBrokerBindsIdentities runs the centre's broker as deploy/
// configures it, for two facilities, and lets facility f2's gateway
// credentials attack facility f1: take over its session, join the
// collectors' share group, read its acks, publish into its topics and the
// services' command topics, forge its last will. Each attempt must fail,
// f1 must see nothing of it, and each refusal must be counted.
func TestCentreBrokerBindsIdentities(t *testing.T) {
	c := startCentre(t)

	// Services on the loopback listener, as on a centre machine.
	col := c.connect(t, connOpts{id: "cw-collector-1", user: "collector", password: passwords["collector"]})
	if got := col.subscribe(t, model.SharedSubscription("cw-collector", model.SuffixBatch), model.SharedSubscription("cw-collector", model.SuffixStatus)); got[model.SharedSubscription("cw-collector", model.SuffixBatch)] != 1 || got[model.SharedSubscription("cw-collector", model.SuffixStatus)] != 1 {
		t.Fatalf("collector's share group subscriptions: %v", got)
	}
	alert := c.connect(t, connOpts{id: centrebroker.AlertingClientID(0), user: centrebroker.AlertingUser(0), password: passwords[centrebroker.AlertingUser(0)]})
	if got := alert.subscribe(t, model.SubscriptionAll(model.SuffixBatch), model.SubscriptionAll(model.SuffixStatus)); got[model.SubscriptionAll(model.SuffixBatch)] != 1 || got[model.SubscriptionAll(model.SuffixStatus)] != 1 {
		t.Fatalf("alerting's subscriptions: %v", got)
	}

	// The victim: f1's gateway over TLS, with its last will.
	victim := c.connect(t, connOpts{id: "gw-f1-a", user: "gw-f1-a", password: passwords["gw-f1-a"], tls: true, will: f1Status})
	if got := victim.subscribe(t, f1Ack); got[f1Ack] != 1 {
		t.Fatalf("gateway's own ack subscription: %v", got)
	}
	victim.publish(t, f1Status, "online-1", true)
	alert.expect(t, "alerting", f1Status, "online-1")
	col.expect(t, "collector", f1Status, "online-1")

	var connects float64
	t.Run("anonymous and wrong passwords are refused", func(t *testing.T) {
		c.refuseConnects(t,
			connOpts{id: "anon"},
			connOpts{id: "gw-f1-a", user: "gw-f1-a", password: "wrong", tls: true},
			connOpts{id: "cw-collector-9", user: "collector", password: "wrong"})
		connects += 3
		c.WaitDenied(t, centrebroker.ActionConnect, connects)
	})

	t.Run("no session takeover with another gateway's client ID", func(t *testing.T) {
		for _, o := range []connOpts{
			{id: "gw-f1-a", user: "gw-f2-a", password: passwords["gw-f2-a"], tls: true},
			// On the services' listener too.
			{id: "gw-f1-a", user: "gw-f2-a", password: passwords["gw-f2-a"]},
		} {
			if cl, err := c.dial(o); err == nil {
				cl.Disconnect(0)
				t.Fatalf("f2's credentials connected with f1's client ID on %v", o.tls)
			}
		}
		connects += 2
		c.WaitDenied(t, centrebroker.ActionConnect, connects)
		// The victim is still connected and no last will fired: its next
		// status is the next thing alerting sees about it.
		victim.publish(t, f1Status, "online-2", true)
		alert.expect(t, "alerting", f1Status, "online-2")
		col.expect(t, "collector", f1Status, "online-2")
		select {
		case err := <-victim.lost:
			t.Fatalf("victim lost its connection: %v", err)
		default:
		}
	})

	attacker := c.connect(t, connOpts{id: "gw-f2-a", user: "gw-f2-a", password: passwords["gw-f2-a"], tls: true})

	t.Run("no subscription to other facilities' streams or share groups", func(t *testing.T) {
		refused := []string{
			model.SharedSubscription("cw-collector", model.SuffixBatch),
			model.SharedSubscription("cw-collector", model.SuffixStatus),
			model.SharedSubscription("other", model.SuffixBatch),
			model.SubscriptionAll(model.SuffixBatch),
			model.SubscriptionAll(model.SuffixStatus),
			"$share/cw-collector/" + f1Batch,
			f1Ack, f1Batch, "cw/v1/f1/#", "#", "cw/ctl/#", model.ShardFilter(0), model.ReplyFilter(centrebroker.ConsoleClientID(0)),
			"$SYS/#", "$CONTROL/dynamic-security/v1",
		}
		got := attacker.subscribe(t, refused...)
		for _, f := range refused {
			if got[f] != 0x80 {
				t.Errorf("attacker's subscription to %s: SUBACK %#x, want 0x80", f, got[f])
			}
		}
		if got := attacker.subscribe(t, f2Ack); got[f2Ack] != 1 {
			t.Fatalf("attacker's own ack: %v", got)
		}
		c.WaitDenied(t, centrebroker.ActionSubscribe, float64(len(refused)))

		// Neither may the services step outside their lanes.
		if got := col.subscribe(t, model.SubscriptionAll(model.SuffixBatch), model.SharedSubscription("other", model.SuffixBatch)); got[model.SubscriptionAll(model.SuffixBatch)] != 0x80 || got[model.SharedSubscription("other", model.SuffixBatch)] != 0x80 {
			t.Errorf("collector outside its share group: %v", got)
		}
		c.WaitDenied(t, centrebroker.ActionSubscribe, float64(len(refused)+2))

		// Every batch of f1 reaches the collectors' group; none the attacker.
		const n = 20
		for i := range n {
			victim.publish(t, f1Batch, fmt.Sprint("batch-", i), false)
		}
		for i := range n {
			col.expect(t, "collector", f1Batch, fmt.Sprint("batch-", i))
			alert.expect(t, "alerting", f1Batch, fmt.Sprint("batch-", i))
		}
		// The broker delivers to one client in order: an ack sent after the
		// batches reaches the attacker after anything of theirs would have.
		col.publish(t, f2Ack, "ack-f2", false)
		if m := attacker.next(t); m.Topic() != f2Ack {
			t.Fatalf("attacker received %s %q", m.Topic(), m.Payload())
		}
	})

	t.Run("no publish into another facility's topics or the command topics", func(t *testing.T) {
		forged := []string{f1Batch, f1Status, f1Ack, model.Topic("f1", "gw-f2-a", model.SuffixBatch), model.Topic("f2", "gw-f1-a", model.SuffixBatch),
			model.CommandTopic(0, "f1"), model.QueryTopic(0), model.ReplyTopic(centrebroker.ConsoleClientID(0), "forged"), "$CONTROL/dynamic-security/v1"}
		for _, topic := range forged {
			attacker.publish(t, topic, "forged", false) // QoS 1: acknowledged and dropped
		}
		// One client's publishes are handled in order: if its own batch is
		// the next thing the services see, the forged ones were dropped.
		attacker.publish(t, f2Batch, "own", false)
		col.expect(t, "collector", f2Batch, "own")
		alert.expect(t, "alerting", f2Batch, "own")
		// Alerting may not acknowledge (an ack releases a gateway's spool);
		// the collector's ack is the first the gateway gets.
		alert.publish(t, f1Ack, "ack-from-alerting", false)
		col.publish(t, f1Ack, "ack-from-collector", false)
		victim.expect(t, "gateway", f1Ack, "ack-from-collector")
		c.WaitDenied(t, centrebroker.ActionPublish, float64(len(forged)+1))
	})

	t.Run("a forged last will is dropped and counted", func(t *testing.T) {
		// f2's gateway connects with a last will on f1's status and vanishes
		// without DISCONNECT: the broker must not publish the false offline.
		conn := rawConnect(t, c, "gw-f2-a", "gw-f2-a", passwords["gw-f2-a"], f1Status, "forged offline")
		conn.Close()
		c.WaitDenied(t, centrebroker.ActionWill, 1)
		// (The raw connection took over the attacker's own, same account.)
		// f1's next status must be what the services see next.
		victim.publish(t, f1Status, "online-3", true)
		alert.expect(t, "alerting", f1Status, "online-3")
		col.expect(t, "collector", f1Status, "online-3")
	})

	if got := testenv.Metric(t, c.Metrics, "cw_broker_session_takeovers_total"); got != 1 {
		t.Errorf("session takeovers = %v, want 1 (the raw connection replacing the attacker's own)", got)
	}
}

// rawConnect sends an MQTT 3.1.1 CONNECT with a last will over TLS and
// waits for the CONNACK, so the test can drop the connection without a
// DISCONNECT (paho always says goodbye).
func rawConnect(t *testing.T, c *centre, id, user, password, willTopic, will string) net.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(c.TLSAddr, "ssl://"), &tls.Config{RootCAs: c.CAPool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }
	const (
		flagUser, flagPassword, flagWillRetain, flagWillQoS1, flagWill, flagClean = 0x80, 0x40, 0x20, 0x08, 0x04, 0x02
	)
	body := append(str("MQTT"), 4, flagUser|flagPassword|flagWillRetain|flagWillQoS1|flagWill|flagClean, 0, 30)
	for _, s := range []string{id, willTopic, will, user, password} {
		body = append(body, str(s)...)
	}
	if len(body) > 127 {
		t.Fatalf("CONNECT of %d bytes needs a longer length encoding", len(body))
	}
	if _, err := conn.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	if _, err := conn.Read(ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK %x, %v", ack, err)
	}
	return conn
}
