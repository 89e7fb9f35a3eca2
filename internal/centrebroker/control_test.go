package centrebroker_test

import (
	"testing"

	"github.com/cradlewatch/cradlewatch/internal/centrebroker"
	"github.com/cradlewatch/cradlewatch/model"
)

// service connects service account user with its bound client ID over the
// services' listener.
func (c *centre) service(t *testing.T, user, id string) *client {
	t.Helper()
	return c.connect(t, connOpts{id: id, user: user, password: passwords[user]})
}

// TestCentreBrokerSplitsTheControlBus runs the centre's broker as deploy/
// configures it, with two alerting shards and two consoles, and holds the
// control bus to docs/security.md: a console publishes commands and
// queries and reads only its own replies; alerting instance n reads only
// shard n's commands and publishes replies; the collector and gateways
// have no part of it. Every attempt across those lines is refused, never
// delivered, and counted; what is allowed flows.
func TestCentreBrokerSplitsTheControlBus(t *testing.T) {
	c := startCentre(t)
	alert0 := c.service(t, centrebroker.AlertingUser(0), centrebroker.AlertingClientID(0))
	alert1 := c.service(t, centrebroker.AlertingUser(1), centrebroker.AlertingClientID(1))
	console0 := c.service(t, centrebroker.ConsoleUser(0), centrebroker.ConsoleClientID(0))
	console1 := c.service(t, centrebroker.ConsoleUser(1), centrebroker.ConsoleClientID(1))
	col := c.service(t, centrebroker.CollectorUser, "cw-collector-1")
	gw := c.connect(t, connOpts{id: "gw-f2-a", user: "gw-f2-a", password: passwords["gw-f2-a"], tls: true})
	reply0 := model.ReplyFilter(centrebroker.ConsoleClientID(0))
	reply1 := model.ReplyFilter(centrebroker.ConsoleClientID(1))

	// What each is for is granted.
	for _, g := range []struct {
		who    string
		cl     *client
		filter string
	}{
		{"alerting-0", alert0, model.ShardFilter(0)},
		{"alerting-1", alert1, model.ShardFilter(1)},
		{"console-0", console0, reply0},
		{"console-1", console1, reply1},
	} {
		if got := g.cl.subscribe(t, g.filter); got[g.filter] != 1 {
			t.Fatalf("%s's own subscription %s: SUBACK %#x", g.who, g.filter, got[g.filter])
		}
	}

	var subs, pubs, connects float64
	refuseSubs := func(who string, cl *client, filters ...string) {
		t.Helper()
		got := cl.subscribe(t, filters...)
		for _, f := range filters {
			if got[f] != 0x80 {
				t.Errorf("%s's subscription to %s: SUBACK %#x, want 0x80", who, f, got[f])
			}
		}
		subs += float64(len(filters))
		c.WaitDenied(t, centrebroker.ActionSubscribe, subs)
	}

	t.Run("alerting-0 cannot read shard 1's commands", func(t *testing.T) {
		refuseSubs("alerting-0", alert0, model.ShardFilter(1), model.CommandTopic(1, "f1"), model.QueryTopic(1),
			"cw/ctl/v1/+/#", "cw/ctl/v1/+/cmd/+", "cw/ctl/v1/#", "cw/ctl/#", "#", reply0, "cw/ctl/v1/reply/#",
			"$share/g/"+model.ShardFilter(1))
		// Nor connect as alerting-1's session, nor as the shard with
		// another account's client ID.
		c.refuseConnects(t,
			connOpts{id: centrebroker.AlertingClientID(1), user: centrebroker.AlertingUser(0), password: passwords[centrebroker.AlertingUser(0)]},
			connOpts{id: "cw-alerting-9", user: centrebroker.AlertingUser(0), password: passwords[centrebroker.AlertingUser(0)]},
			connOpts{id: centrebroker.AlertingClientID(1), user: centrebroker.CollectorUser, password: "wrong"})
		connects += 3
		c.WaitDenied(t, centrebroker.ActionConnect, connects)
	})

	t.Run("the console cannot read another requester's replies", func(t *testing.T) {
		refuseSubs("console-0", console0, reply1, "cw/ctl/v1/reply/+/+", "cw/ctl/v1/reply/#", "cw/ctl/#",
			model.ShardFilter(0), model.QueryTopic(0), model.CommandTopic(0, "f1"))
		c.refuseConnects(t, connOpts{id: centrebroker.ConsoleClientID(1), user: centrebroker.ConsoleUser(0), password: passwords[centrebroker.ConsoleUser(0)]})
		connects++
		c.WaitDenied(t, centrebroker.ActionConnect, connects)
	})

	t.Run("a gateway and a collector cannot publish a command", func(t *testing.T) {
		forged := []struct {
			who   string
			cl    *client
			topic string
		}{
			{"gateway", gw, model.CommandTopic(0, "f1")},
			{"gateway", gw, model.QueryTopic(0)},
			{"collector", col, model.CommandTopic(0, "f1")},
			{"collector", col, model.QueryTopic(0)},
			// Alerting instances answer; they never command each other.
			{"alerting-1", alert1, model.CommandTopic(0, "f1")},
			{"alerting-1", alert1, model.QueryTopic(0)},
			// Nobody but alerting may answer: a forged reply would tell a
			// person an acknowledgement was made.
			{"gateway", gw, model.ReplyTopic(centrebroker.ConsoleClientID(0), "r1")},
			{"collector", col, model.ReplyTopic(centrebroker.ConsoleClientID(0), "r1")},
			{"console-1", console1, model.ReplyTopic(centrebroker.ConsoleClientID(0), "r1")},
		}
		for _, f := range forged {
			f.cl.publish(t, f.topic, "forged by "+f.who, false) // QoS 1: acknowledged and dropped
		}
		pubs += float64(len(forged))
		c.WaitDenied(t, centrebroker.ActionPublish, pubs)
		// Each forged publish was handled (PUBACK) before these: if they are
		// the next thing each side receives, nothing forged was delivered.
		console0.publish(t, model.CommandTopic(0, "f1"), "command-0", false)
		alert0.expect(t, "alerting-0", model.CommandTopic(0, "f1"), "command-0")
		alert0.publish(t, model.ReplyTopic(centrebroker.ConsoleClientID(0), "r1"), "reply-0", false)
		console0.expect(t, "console-0", model.ReplyTopic(centrebroker.ConsoleClientID(0), "r1"), "reply-0")
	})

	t.Run("a command reaches its shard and a reply its requester, no one else", func(t *testing.T) {
		console0.publish(t, model.CommandTopic(1, "f1"), "command-1", false)
		console1.publish(t, model.QueryTopic(0), "query-0", false)
		console1.publish(t, model.QueryTopic(1), "query-1", false)
		alert1.expect(t, "alerting-1", model.CommandTopic(1, "f1"), "command-1")
		alert0.expect(t, "alerting-0", model.QueryTopic(0), "query-0")
		alert1.expect(t, "alerting-1", model.QueryTopic(1), "query-1")
		alert1.publish(t, model.ReplyTopic(centrebroker.ConsoleClientID(0), "r2"), "reply-to-0", false)
		alert1.publish(t, model.ReplyTopic(centrebroker.ConsoleClientID(1), "r3"), "reply-to-1", false)
		console1.expect(t, "console-1", model.ReplyTopic(centrebroker.ConsoleClientID(1), "r3"), "reply-to-1")
		console0.expect(t, "console-0", model.ReplyTopic(centrebroker.ConsoleClientID(0), "r2"), "reply-to-0")
		// Shard 0 saw nothing of shard 1's command: the next thing it gets
		// is a later command of its own.
		console0.publish(t, model.CommandTopic(0, "f2"), "command-0b", false)
		alert0.expect(t, "alerting-0", model.CommandTopic(0, "f2"), "command-0b")
		// And nothing here was refused.
		c.WaitDenied(t, centrebroker.ActionPublish, pubs)
		c.WaitDenied(t, centrebroker.ActionSubscribe, subs)
	})
}
