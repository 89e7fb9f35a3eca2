package ctlbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("0123456789abcdef0123456789abcdef")

// connect returns a connected client that subscribes filter on every
// connect.
func connect(t *testing.T, b *testenv.Broker, id, filter string, h mqtt.MessageHandler) mqtt.Client {
	t.Helper()
	c, err := mqttx.New(mqttx.Options{Config: mqttx.Config{Broker: b.Addr(), ClientID: id}, CleanSession: true, OrderMatters: false, AutoAck: true,
		OnConnect: func(c mqtt.Client) {
			if err := mqttx.Subscribe(c, filter, 1, h); err != nil {
				t.Errorf("subscribe: %v", err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mqttx.Connect(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// shard runs one alerting instance's responder that owns the facilities
// ShardOf gives it among n, and records what its handler applied.
type shard struct {
	mu      sync.Mutex
	applied []model.Command
	reg     *prometheus.Registry
}

func startShard(t *testing.T, ctx context.Context, b *testenv.Broker, index, n int, key []byte) *shard {
	t.Helper()
	sh := &shard{reg: prometheus.NewRegistry()}
	var r *Responder
	handle := func(c mqtt.Client, m mqtt.Message) { r.Handle(c, m) }
	client := connect(t, b, fmt.Sprintf("alerting-%d", index), model.ShardFilter(index), handle)
	var err error
	r, err = NewResponder(ResponderOptions{Client: client, Shard: index, Secret: key, Registerer: sh.reg,
		Owns: func(f string) bool { return model.ShardOf(f, n) == index },
		Handler: func(_ context.Context, c model.Command) model.Reply {
			sh.mu.Lock()
			sh.applied = append(sh.applied, c)
			sh.mu.Unlock()
			if c.Kind == model.CommandAlerts {
				body, _ := json.Marshal([]string{fmt.Sprintf("alerts of shard %d", index)})
				return model.Reply{Status: model.ReplyOK, Body: body}
			}
			return model.Reply{Status: model.ReplyOK}
		}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { <-done })
	return sh
}

func (sh *shard) count() int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return len(sh.applied)
}

func (sh *shard) result(kind, result string) float64 {
	mfs, _ := sh.reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] == kind && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func newRequester(t *testing.T, b *testenv.Broker, id string, n int, key []byte, timeout time.Duration) *Requester {
	t.Helper()
	var r *Requester
	client := connect(t, b, id, model.ReplyFilter(id), func(c mqtt.Client, m mqtt.Message) { r.Handle(c, m) })
	var err error
	r, err = NewRequester(RequesterOptions{Client: client, ClientID: id, Shards: n, Secret: key, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// facilityOf finds a facility ID owned by shard i of n.
func facilityOf(i, n int) string {
	for k := 0; ; k++ {
		f := fmt.Sprintf("110105001-%04d", k)
		if model.ShardOf(f, n) == i {
			return f
		}
	}
}

func TestCommandReachesTheOwnerOnly(t *testing.T) {
	testenv.Integration(t)
	b := testenv.Mosquitto(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 3
	shards := make([]*shard, n)
	for i := range shards {
		shards[i] = startShard(t, ctx, b, i, n, secret)
	}
	req := newRequester(t, b, "console-1", n, secret, 5*time.Second)
	actor := model.Actor{Kind: "person", ID: "wang", Role: "operator"}
	for i := 0; i < n; i++ {
		f := facilityOf(i, n)
		rep, err := req.Do(ctx, model.Command{Kind: model.CommandAck, Facility: f, Ref: "12345678", Actor: actor})
		if err != nil || rep.Status != model.ReplyOK || rep.Shard != i {
			t.Fatalf("ack for %s: %+v %v; want ok from shard %d", f, rep, err, i)
		}
	}
	for i, sh := range shards {
		if sh.count() != 1 || sh.applied[0].Actor != actor {
			t.Errorf("shard %d applied %+v; want one command with the actor", i, sh.applied)
		}
	}
	reps, err := req.Gather(ctx, model.Command{Kind: model.CommandAlerts, Region: "110105", Actor: actor})
	if err != nil || len(reps) != n {
		t.Fatalf("gather: %d replies, %v", len(reps), err)
	}
	for i, r := range reps {
		var body []string
		if r.Shard != i || json.Unmarshal(r.Body, &body) != nil || body[0] != fmt.Sprintf("alerts of shard %d", i) {
			t.Errorf("reply %d: %+v", i, r)
		}
	}
}

func TestQueryNamesMissingShards(t *testing.T) {
	testenv.Integration(t)
	b := testenv.Mosquitto(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startShard(t, ctx, b, 0, 2, secret) // shard 1 is down
	req := newRequester(t, b, "console-1", 2, secret, time.Second)
	reps, err := req.Gather(ctx, model.Command{Kind: model.CommandAlerts, Actor: model.Actor{Kind: "person", ID: "x"}})
	var inc *IncompleteError
	if !errors.As(err, &inc) || len(inc.Missing) != 1 || inc.Missing[0] != 1 || len(reps) != 1 {
		t.Fatalf("got %d replies, %v; want shard 0's and shard 1 missing", len(reps), err)
	}
	f := facilityOf(1, 2)
	if _, err := req.Do(ctx, model.Command{Kind: model.CommandAck, Facility: f, Ref: "1", Actor: model.Actor{Kind: "person", ID: "x"}}); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("ack to a down owner: %v, want ErrNoAnswer", err)
	}
}

func TestForgedExpiredAndRepeatedCommandsAreNotApplied(t *testing.T) {
	testenv.Integration(t)
	b := testenv.Mosquitto(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sh := startShard(t, ctx, b, 0, 1, secret)
	f := facilityOf(0, 1)
	actor := model.Actor{Kind: "person", ID: "attacker"}

	// A requester with another secret: its commands reach the shard and are
	// refused without an answer.
	other := []byte("ffffffffffffffffffffffffffffffff")
	forger := newRequester(t, b, "forger", 1, other, 500*time.Millisecond)
	if _, err := forger.Do(ctx, model.Command{Kind: model.CommandAck, Facility: f, Ref: "1", Actor: actor}); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("forged ack: %v, want no answer", err)
	}

	// Raw publishes: an expired command, a command whose reply topic points
	// elsewhere, a command for a facility other than its topic's, and one
	// sent twice.
	raw := connect(t, b, "raw", model.ReplyFilter("raw"), func(mqtt.Client, mqtt.Message) {})
	send := func(c model.Command, topic string) {
		t.Helper()
		c.V = model.WireVersion
		if c.ReplyTo == "" {
			c.ReplyTo = model.ReplyTopic("raw", c.ID)
		}
		if err := Sign(secret, &c); err != nil {
			t.Fatal(err)
		}
		p, _ := json.Marshal(c)
		if err := mqttx.Wait(ctx, raw.Publish(topic, 1, false, p), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	send(model.Command{ID: "expired", Kind: model.CommandAck, Facility: f, Actor: actor, Issued: now.Add(-time.Minute), Deadline: now.Add(-time.Second)}, model.CommandTopic(0, f))
	send(model.Command{ID: "reflect", Kind: model.CommandAck, Facility: f, Actor: actor, Deadline: now.Add(time.Minute), ReplyTo: "cw/v1/" + f + "/gw-1/ack"}, model.CommandTopic(0, f))
	send(model.Command{ID: "mismatch", Kind: model.CommandAck, Facility: "110105001-9999", Actor: actor, Deadline: now.Add(time.Minute)}, model.CommandTopic(0, f))
	send(model.Command{ID: "twice", Kind: model.CommandAck, Facility: f, Actor: actor, Deadline: now.Add(time.Minute)}, model.CommandTopic(0, f))
	send(model.Command{ID: "twice", Kind: model.CommandAck, Facility: f, Actor: actor, Deadline: now.Add(time.Minute)}, model.CommandTopic(0, f))

	// A genuine command afterwards: once it is answered, everything before
	// it was processed (one responder goroutine, in order).
	req := newRequester(t, b, "console-1", 1, secret, 5*time.Second)
	if rep, err := req.Do(ctx, model.Command{Kind: model.CommandAck, Facility: f, Ref: "2", Actor: model.Actor{Kind: "person", ID: "wang"}}); err != nil || rep.Status != model.ReplyOK {
		t.Fatalf("genuine ack: %+v %v", rep, err)
	}
	want := map[string]float64{resultBadMAC: 1, resultExpired: 1, resultMalformed: 1, resultDuplicate: 1}
	for result, n := range want {
		if got := sh.result("ack", result); got != n {
			t.Errorf("ack %s: %v, want %v", result, got, n)
		}
	}
	if got := sh.result("ack", string(model.ReplyInvalid)); got != 1 {
		t.Errorf("facility mismatch answered invalid %v times, want 1", got)
	}
	if sh.count() != 2 { // "twice" once, and the genuine one
		t.Errorf("handler applied %d commands, want 2: %+v", sh.count(), sh.applied)
	}
}

func TestNewRefusesShortSecrets(t *testing.T) {
	if _, err := NewRequester(RequesterOptions{Secret: []byte("short")}); err == nil {
		t.Error("requester took a short secret")
	}
	if _, err := NewResponder(ResponderOptions{Secret: []byte("change-me")}); err == nil {
		t.Error("responder took a short secret")
	}
}

func TestSignVerify(t *testing.T) {
	c := model.Command{V: 1, ID: "x", Kind: model.CommandAck, Facility: "f", Actor: model.Actor{Kind: "person", ID: "wang"}}
	if err := Sign(secret, &c); err != nil {
		t.Fatal(err)
	}
	if err := Verify(secret, c); err != nil {
		t.Fatal(err)
	}
	c.Actor.ID = "li"
	if err := Verify(secret, c); !errors.Is(err, ErrBadMAC) {
		t.Fatalf("changed actor: %v, want ErrBadMAC", err)
	}
}
