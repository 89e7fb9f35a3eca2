package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/console"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// Escalation schedule of the test: seconds instead of the production
// minutes (operator at once, street after 10 min, county after 30 min).
const (
	streetAfter = 10 * time.Second
	countyAfter = 20 * time.Second
)

// Contacts of the test's street office and county health commission.
const (
	streetID = "street-110105001"
	countyID = "county-110105"
)

// The three facilities of the escalation test, one smoke detector each.
const (
	facUnacked  = "110105001-0101" // nobody acknowledges: climbs to the county
	facAcked    = "110105001-0102" // the operator acknowledges at once
	facSilenced = "110105001-0103" // in a maintenance window
)

// TestEscalation raises a critical alert (smoke_alarm: critical, always, no
// `for`) in three facilities at once, through real gateways, Mosquitto and
// influxd, and checks the notification path end to end:
//
//   - unacknowledged: the operator at once, the street office after
//     streetAfter, the county after countyAfter, never earlier; and the
//     resolution to all three;
//   - acknowledged by the operator's SMS reply with the code from its SMS,
//     pushed to the front door's provider callback and forwarded to the
//     instance that issued the code: no escalation at all, the resolution
//     to the operator;
//   - silenced by the county through the front door's API before the
//     alarm: nothing sent, yet the alert is in InfluxDB and the
//     notification log records the silenced notices;
//   - the alerting service is stopped and started again on the same state
//     directories between the street and the county steps: the county
//     step still comes, once, and nothing already sent is sent again.
func TestEscalation(t *testing.T) {
	broker := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	if err := inf.CreateDatabase(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	facDir := filepath.Join(dir, "facilities")
	if err := os.MkdirAll(facDir, 0o750); err != nil {
		t.Fatal(err)
	}
	facs := []string{facUnacked, facAcked, facSilenced}
	for i, id := range facs {
		gw := "gw-" + id[len(id)-4:]
		fac := writeFile(t, facDir, id+".yaml", smokeFacilityYAML(id, gw, fmt.Sprintf("+86138000001%02d", i)))
		startGateway(t, writeFile(t, dir, gw+".yaml", smokeGatewayYAML(gw, id, fac, broker.Addr(), filepath.Join(dir, "spool-"+gw))))
	}
	operatorOnly := notify.Policy{Steps: []notify.Step{{Name: "operator", Targets: []notify.Target{notify.TargetOperator}}}}
	critical := notify.Policy{Steps: []notify.Step{
		{Name: "operator", Targets: []notify.Target{notify.TargetOperator}},
		{Name: "street", After: streetAfter, Targets: []notify.Target{notify.TargetStreet}},
		{Name: "county", After: countyAfter, Targets: []notify.Target{notify.TargetCounty}},
	}}
	ncfg := notifyConfig(filepath.Join(dir, "notify"), map[string]notify.Policy{
		"info": operatorOnly, "warning": operatorOnly, "critical": critical,
	}, map[string][]notify.Contact{
		"110105001": {{ID: streetID, Name: "街道办", Phone: "+8613900000001"}},
		"110105":    {{ID: countyID, Name: "区卫健委", Phone: "+8613700000001"}},
	})
	rulesFile := writeRulesOverlay(t, dir, "    {}\n")
	cfg := alertingConfig(broker.Addr(), inf, facDir, rulesFile, filepath.Join(dir, "alerting"), ncfg)
	d := newDeployment(t, dir, 1, nil)
	d.alerting(&cfg, 0)
	sms := &capture{}
	startCollector(t, broker.Addr(), inf, "collector-escalation", facDir)
	al := startAlerting(t, cfg, sms)
	front := d.startFrontDoor(broker.Addr(), inf.URL(), facDir, rulesFile)
	county := front.account("county-110105", authn.Grant{Role: access.RoleCounty, Region: model.MustRegionCode("110105")}, false)
	county.waitAllShards()
	pub := newSmokePublisher(t, broker.Addr())
	for _, id := range facs {
		pub.warmup(t, inf, id)
	}

	if code, body := county.do("POST", "/api/v1/facilities/"+facSilenced+"/silences", console.SilenceJSON{Duration: "10m", Reason: "烟感检修"}, nil); code != 201 {
		t.Fatalf("POST /api/v1/facilities/%s/silences: %d %s", facSilenced, code, body)
	}
	for _, id := range facs {
		pub.smoke(t, id, 1)
	}
	firing := func(fac string) []sent {
		return sms.waitFor(1, 30*time.Second, of(notify.KindFiring, fac, "smoke_alarm"))
	}
	if len(firing(facUnacked)) == 0 {
		t.Fatalf("no firing notification for %s; messages:\n%s", facUnacked, sms.dump())
	}
	acked := firing(facAcked)
	if len(acked) == 0 {
		t.Fatalf("no firing notification for %s; messages:\n%s", facAcked, sms.dump())
	}
	ackCode := acked[0].Msg.Params[notify.ParamCode]
	if code, body := front.pushSMSReply(acked[0].Msg.To.Phone, "收到，确认"+ackCode); code != 200 {
		t.Fatalf("SMS reply with code %q: %d %s", ackCode, code, body)
	}

	escalation := func(to string) func(sent) bool {
		return func(s sent) bool {
			return s.kind() == notify.KindEscalation && s.Msg.To.ID == to && s.covers(facUnacked, "smoke_alarm")
		}
	}
	if got := sms.waitFor(1, 40*time.Second, escalation(streetID)); len(got) == 0 {
		t.Fatalf("no escalation to the street; messages:\n%s", sms.dump())
	}
	// Restart between the street and the county steps, on the same state
	// directories.
	al.stop()
	al = startAlerting(t, cfg, sms)
	if got := sms.waitFor(1, 40*time.Second, escalation(countyID)); len(got) == 0 {
		t.Fatalf("no escalation to the county after the restart; messages:\n%s", sms.dump())
	}

	for _, id := range facs {
		pub.smoke(t, id, 0)
	}
	if got := sms.waitFor(3, 30*time.Second, of(notify.KindResolved, facUnacked, "smoke_alarm")); len(got) < 3 {
		t.Fatalf("%d resolved notifications for %s, want 3 (operator, street, county); messages:\n%s", len(got), facUnacked, sms.dump())
	}
	if got := sms.waitFor(1, 30*time.Second, of(notify.KindResolved, facAcked, "smoke_alarm")); len(got) == 0 {
		t.Fatalf("no resolved notification for %s; messages:\n%s", facAcked, sms.dump())
	}
	for _, id := range facs {
		states := []string{"firing", "resolved"}
		if id == facAcked {
			states = append(states, "acknowledged")
		}
		for _, st := range states {
			if n := waitCount(t, inf, eventQuery(id, "smoke_alarm", st), 1, 30*time.Second); n != 1 {
				t.Errorf("%s: %d alert_event points with state %s, want 1", id, n, st)
			}
		}
	}
	al.stop()
	t.Logf("messages:\n%s", sms.dump())

	checkMessages(t, sms, facUnacked, map[notify.Kind][]string{
		notify.KindFiring:     {facUnacked + "/op0"},
		notify.KindEscalation: {streetID, countyID},
		notify.KindResolved:   {facUnacked + "/op0", streetID, countyID},
	})
	checkMessages(t, sms, facAcked, map[notify.Kind][]string{
		notify.KindFiring:   {facAcked + "/op0"},
		notify.KindResolved: {facAcked + "/op0"},
	})
	checkMessages(t, sms, facSilenced, nil)
	for _, s := range sms.all() {
		if s.kind() != notify.KindEscalation {
			continue
		}
		start := s.Msg.Alerts[0].StartsAt
		after := map[string]time.Duration{streetID: streetAfter, countyID: countyAfter}[s.Msg.To.ID]
		t.Logf("escalation to %s %.1f s after the alert started (step: %s)", s.Msg.To.ID, s.At.Sub(start).Seconds(), after)
		if s.At.Before(start.Add(after)) {
			t.Errorf("escalation to %s at %s, before its step (%s after %s)", s.Msg.To.ID, s.At, after, start)
		}
	}
	if n := silencedInLog(t, filepath.Join(dir, "notify", notify.LogFile), facSilenced); n == 0 {
		t.Errorf("the notification log records no silenced notice for %s", facSilenced)
	} else {
		t.Logf("%s: %d notices recorded as silenced", facSilenced, n)
	}
}

// checkMessages asserts the exact notifications about one facility: per
// kind, one message to each recipient listed, nothing else.
func checkMessages(t *testing.T, sms *capture, facility string, want map[notify.Kind][]string) {
	t.Helper()
	got := map[notify.Kind][]string{}
	for _, s := range sms.matching(func(s sent) bool { return s.covers(facility, "smoke_alarm") }) {
		got[s.kind()] = append(got[s.kind()], s.Msg.To.ID)
	}
	for k, ids := range got {
		if !sameSet(ids, want[k]) {
			t.Errorf("%s: %s notifications to %v, want %v", facility, k, ids, want[k])
		}
	}
	for k, ids := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("%s: no %s notification, want to %v", facility, k, ids)
		}
	}
}

// sameSet compares as multisets: a duplicate is a difference.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	n := map[string]int{}
	for _, x := range a {
		n[x]++
	}
	for _, x := range b {
		n[x]--
	}
	for _, v := range n {
		if v != 0 {
			return false
		}
	}
	return true
}

// silencedInLog counts "silenced" records of a facility in the
// notification log.
func silencedInLog(t *testing.T, path, facility string) int {
	t.Helper()
	es, err := notify.ReadLog(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Outcome == notify.OutcomeSilenced && e.Facility == facility {
			n++
		}
	}
	return n
}

// smokeFacilityYAML is a facility with one smoke detector on a generic
// JSON source and one operator. Interval 0: no absence rule.
func smokeFacilityYAML(id, gateway, phone string) string {
	return fmt.Sprintf(`facility: {id: %q, name: 测试园%s, region: "110105001", timezone: Asia/Shanghai}
gateways: [%s]
rooms:
  - {id: room-1, name: 乳儿班, type: infant}
devices:
  - {id: smoke-1, room: room-1, source: smoke, address: s1, kinds: [smoke], interval: 0s}
operators:
  - {name: 园长, phone: %q, role: director}
`, id, id[len(id)-4:], gateway, phone)
}

// smokeGatewayYAML configures a gateway reading e2e/<facility>/<device>/state
// JSON {"v": 0|1, "ts": unix ms}.
func smokeGatewayYAML(id, facility, facilityFile, broker, spoolDir string) string {
	return fmt.Sprintf(`gateway_id: %s
facility_file: %s
local:
  mqtt: {broker: %s, client_id: %s-local}
uplink:
  mqtt: {broker: %s, username: ignored}
  ack_timeout: 2s
  max_ack_timeout: 4s
spool: {dir: %s, commit_interval: 50ms}
sources:
  - family: json
    name: smoke
    topic: e2e/%s/+device/state
    time_path: ts
    time_format: unix_ms
    fields: [{path: v, kind: smoke}]
status_interval: 2s
http: {listen: "127.0.0.1:0"}
`, id, facilityFile, broker, id, broker, spoolDir, facility)
}

// smokePublisher plays the smoke detectors on the local broker.
type smokePublisher struct{ c mqtt.Client }

func newSmokePublisher(t *testing.T, broker string) *smokePublisher {
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID("smoke-sim").SetAutoReconnect(true)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("smoke publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &smokePublisher{c: c}
}

// smoke publishes one reading of the facility's detector, stamped now.
func (p *smokePublisher) smoke(t *testing.T, facility string, v int) {
	t.Helper()
	payload := fmt.Sprintf(`{"v": %d, "ts": %d}`, v, time.Now().UnixMilli())
	tok := p.c.Publish("e2e/"+facility+"/s1/state", 1, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish smoke %d for %s: %v", v, facility, tok.Error())
	}
}

// warmup publishes "no smoke" until a reading of the facility is in
// InfluxDB: the gateway is subscribed and its uplink connected.
func (p *smokePublisher) warmup(t *testing.T, inf interface {
	Count(ctx context.Context, db, q string) (int64, error)
}, facility string) {
	t.Helper()
	q := fmt.Sprintf(`SELECT count(value) FROM smoke WHERE facility = '%s'`, facility)
	for i := 0; i < 120; i++ {
		p.smoke(t, facility, 0)
		if n, err := inf.Count(t.Context(), db, q); err == nil && n > 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no smoke reading of %s reached InfluxDB within a minute", facility)
}
