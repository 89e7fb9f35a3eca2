package centrebroker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A Mosquitto 2.0.11 log (log_type debug and subscribe, no timestamps),
// as the centre's broker wrote it in TestCentreBrokerBindsIdentities.
const brokerLog = `mosquitto version 2.0.11 starting
New connection from 127.0.0.1:45438 on port 8883.
New client connected from 127.0.0.1:45438 as gw-f1-a (p2, c1, k30, u'gw-f1-a').
Will message specified (26 bytes) (r1, q1).
	cw/v1/f1/gw-f1-a/status
Sending CONNACK to gw-f1-a (0, 0)
Received SUBSCRIBE from gw-f1-a
	cw/v1/f1/gw-f1-a/ack (QoS 1)
gw-f1-a 1 cw/v1/f1/gw-f1-a/ack
Sending SUBACK to gw-f1-a
New connection from 127.0.0.1:45448 on port 8883.
New client connected from 127.0.0.1:45448 as gw-f2-a (p2, c1, k30, u'gw-f2-a').
No will message specified.
Sending CONNACK to gw-f2-a (0, 0)
Received SUBSCRIBE from gw-f2-a
	$share/cw-collector/cw/v1/+/+/batch (QoS 1)
	cw/v1/f2/gw-f2-a/ack (QoS 1)
	cw/v1/+/+/status (QoS 0)
gw-f2-a 1 cw/v1/f2/gw-f2-a/ack
Sending SUBACK to gw-f2-a
Received PUBLISH from gw-f1-a (d0, q1, r0, m2, 'cw/v1/f1/gw-f1-a/batch', ... (3 bytes))
Sending PUBLISH to cw-collector-1 (d0, q1, r0, m1, 'cw/v1/f1/gw-f1-a/batch', ... (3 bytes))
Sending PUBACK to gw-f1-a (m2, rc0)
Denied PUBLISH from gw-f2-a (d0, q1, r0, m6, 'cw/v1/f1/gw-f1-a/batch', ... (6 bytes))
Sending PUBACK to gw-f2-a (m6, rc135)
Denied PUBLISH from gw-f2-a (d0, q1, r0, m7, 'cw/ctl/x', ... (3 bytes))
New connection from 127.0.0.1:45452 on port 8883.
Sending CONNACK to 127.0.0.1 (0, 5)
Client <unknown> disconnected, not authorised.
New connection from 127.0.0.1:40332 on port 8883.
Client gw-f2-a already connected, closing old connection.
New client connected from 127.0.0.1:40332 as gw-f2-a (p2, c1, k30, u'gw-f2-a').
Will message specified (11 bytes) (r1, q1).
	cw/v1/f1/gw-f1-a/status
Sending CONNACK to gw-f2-a (0, 0)
Client gw-f2-a closed its connection.
Received PINGREQ from cw-collector-1
Sending PINGRESP to cw-collector-1
`

func TestWatcherCountsRefusals(t *testing.T) {
	var fwd, logs bytes.Buffer
	reg := prometheus.NewRegistry()
	wills := func(user, topic string) (bool, bool) {
		return strings.HasPrefix(user, "gw-"), topic == "cw/v1/f1/gw-f1-a/status" && user == "gw-f1-a" || topic == "cw/v1/f2/gw-f2-a/status" && user == "gw-f2-a"
	}
	w := NewWatcher(WatcherOptions{Forward: &fwd, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg, Wills: wills})
	for _, l := range strings.Split(strings.TrimSuffix(brokerLog, "\n"), "\n") {
		w.Line(l)
	}
	for action, want := range map[string]float64{ActionPublish: 2, ActionSubscribe: 2, ActionConnect: 1, ActionWill: 1} {
		if got := testutil.ToFloat64(w.denied.WithLabelValues(action)); got != want {
			t.Errorf("denied{%s} = %v, want %v", action, got, want)
		}
	}
	if got := testutil.ToFloat64(w.takeovers); got != 1 {
		t.Errorf("takeovers = %v, want 1", got)
	}
	// Debug output stays out of the journal; connections and refusals of
	// connections stay in.
	wantFwd := `mosquitto version 2.0.11 starting
New connection from 127.0.0.1:45438 on port 8883.
New client connected from 127.0.0.1:45438 as gw-f1-a (p2, c1, k30, u'gw-f1-a').
New connection from 127.0.0.1:45448 on port 8883.
New client connected from 127.0.0.1:45448 as gw-f2-a (p2, c1, k30, u'gw-f2-a').
New connection from 127.0.0.1:45452 on port 8883.
Client <unknown> disconnected, not authorised.
New connection from 127.0.0.1:40332 on port 8883.
Client gw-f2-a already connected, closing old connection.
New client connected from 127.0.0.1:40332 as gw-f2-a (p2, c1, k30, u'gw-f2-a').
Client gw-f2-a closed its connection.
`
	if fwd.String() != wantFwd {
		t.Errorf("forwarded:\n%s\nwant:\n%s", fwd.String(), wantFwd)
	}
	for _, want := range []string{
		`topic=cw/v1/f1/gw-f1-a/batch`, `topic=cw/ctl/x`, `filter=$share/cw-collector/cw/v1/+/+/batch`, `filter=cw/v1/+/+/status`,
		`action=will client_id=gw-f2-a username=gw-f2-a topic=cw/v1/f1/gw-f1-a/status`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("refusal log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestWatcherRateLimitsLogs: a flood of refusals is counted in full, logged
// logBurst at a time per window, and the suppressed ones are counted too.
func TestWatcherRateLimitsLogs(t *testing.T) {
	var logs bytes.Buffer
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	w := NewWatcher(WatcherOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now }})
	const flood = 1000
	for range flood {
		w.Line("Denied PUBLISH from x (d0, q1, r0, m7, 'cw/ctl/x', ... (3 bytes))")
	}
	now = now.Add(logWindow)
	w.Line("Denied PUBLISH from x (d0, q1, r0, m7, 'cw/ctl/y', ... (3 bytes))")
	if got := testutil.ToFloat64(w.denied.WithLabelValues(ActionPublish)); got != flood+1 {
		t.Errorf("denied = %v, want %d", got, flood+1)
	}
	if got := testutil.ToFloat64(w.suppressed); got != flood-logBurst {
		t.Errorf("suppressed = %v, want %d", got, flood-logBurst)
	}
	if n := strings.Count(logs.String(), "broker refused a publish"); n != logBurst+1 {
		t.Errorf("%d refusals logged, want %d", n, logBurst+1)
	}
	if !strings.Contains(logs.String(), "count=980") {
		t.Errorf("no summary of the suppressed refusals:\n%s", logs.String())
	}
}

func TestLineParsers(t *testing.T) {
	if c, tp := deniedPublish("Denied PUBLISH from gw a (d0, q1, r0, m6, 'cw/v1/f1/x, y', ... (6 bytes))"); c != "gw a" || tp != "cw/v1/f1/x, y" {
		t.Errorf("deniedPublish = %q %q", c, tp)
	}
	if c, u := connectedClient("New client connected from 127.0.0.1:1 as cw-collector-1 (p2, c1, k30, u'collector')."); c != "cw-collector-1" || u != "collector" {
		t.Errorf("connectedClient = %q %q", c, u)
	}
	if c, u := connectedClient("New client connected from 127.0.0.1:1 as anon (p2, c1, k30)."); c != "anon" || u != "" {
		t.Errorf("connectedClient without user = %q %q", c, u)
	}
	for in, want := range map[string]string{"1764577000: Client x": "Client x", "Client 12: x": "Client 12: x", "": ""} {
		if got := stripTimestamp(in); got != want {
			t.Errorf("stripTimestamp(%q) = %q, want %q", in, got, want)
		}
	}
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"cw/ctl/#", "cw/ctl/ack", true}, {"cw/v1/+/+/ack", "cw/v1/f/g/ack", true}, {"cw/v1/+/+/ack", "cw/v1/f/g/batch", false},
		{"cw/v1/f/g/status", "cw/v1/f/g/status", true}, {"cw/v1/f/g/status", "cw/v1/f/g", false}, {"a/b", "a/b/c", false},
	} {
		if got := topicMatches(c.filter, c.topic); got != c.want {
			t.Errorf("topicMatches(%q, %q) = %v", c.filter, c.topic, got)
		}
	}
}
