package model

import "testing"

func TestControlTopics(t *testing.T) {
	f := func(topic string, shard int, query bool, facility string, ok bool) {
		t.Helper()
		s, q, fac, err := ParseShardTopic(topic)
		if (err == nil) != ok || s != shard || q != query || fac != facility {
			t.Errorf("%q: %d %v %q %v; want %d %v %q ok=%v", topic, s, q, fac, err, shard, query, facility, ok)
		}
	}
	f(CommandTopic(3, "110105001-0001"), 3, false, "110105001-0001", true)
	f(QueryTopic(0), 0, true, "", true)
	f("cw/ctl/v1/x/query", 0, false, "", false)
	f("cw/ctl/v1/-1/query", 0, false, "", false)
	f("cw/ctl/v1/2/cmd/a+b", 0, false, "", false)
	f("cw/ctl/v1/2/cmd", 0, false, "", false)
	f("cw/ctl/v1/2/cmd/a/b", 0, false, "", false)
	f("cw/v1/f/g/batch", 0, false, "", false)
	f(ReplyTopic("console-1", "abc"), 0, false, "", false)
	if ShardFilter(2) != "cw/ctl/v1/2/#" || ReplyFilter("c") != "cw/ctl/v1/reply/c/+" {
		t.Error("filters")
	}
	if !CommandAck.Changes() || CommandAlerts.Changes() {
		t.Error("Changes")
	}
}
