package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting"
	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// Contacts of the platform tests.
const (
	platformContact = "platform-oncall"
	platformStreet  = "street-110105001"
	platformRegion  = model.Region("110105001")
)

// platformAlerting starts the alerting service for the facilities in
// facDir on broker, with rules (a file from writeRulesOverlay): critical
// alerts to the operator and the street office at once, platform alerts to
// platformContact. No InfluxDB: alert events are off (the state store and
// the API still have every transition).
func platformAlerting(t *testing.T, broker, dir, facDir, rules string, sms *capture) (*alertingRun, alerting.Config) {
	t.Helper()
	now := notify.Policy{Steps: []notify.Step{
		{Name: "operator", Targets: []notify.Target{notify.TargetOperator}},
		{Name: "street", Targets: []notify.Target{notify.TargetStreet}},
	}}
	ncfg := notifyConfig(filepath.Join(dir, "notify"), map[string]notify.Policy{"info": now, "warning": now, "critical": now},
		map[string][]notify.Contact{string(platformRegion): {{ID: platformStreet, Name: "街道办", Phone: "+8613900000009"}}})
	// alertingConfig wants an InfluxDB for the events; they are off here.
	cfg := alertingConfig(broker, &influxd.Server{}, facDir, rules, filepath.Join(dir, "alerting"), ncfg)
	cfg.Events.Enabled = false
	cfg.Platform.Contacts = []notify.Contact{{ID: platformContact, Name: "平台值班", Phone: "+8613600000009"}}
	return startAlerting(t, cfg, sms), cfg
}

// platformMessages splits what was sent into the platform team's and
// everybody else's (operators, the street office).
func platformMessages(sms *capture) (platform, others []sent) {
	for _, s := range sms.all() {
		if s.Msg.To.ID == platformContact {
			platform = append(platform, s)
		} else {
			others = append(others, s)
		}
	}
	return platform, others
}

// aboutPlatform selects messages of one kind to the platform team about a
// platform rule.
func aboutPlatform(k notify.Kind, rule string) func(sent) bool {
	return func(s sent) bool {
		return s.Msg.To.ID == platformContact && s.kind() == k && s.covers(rules.DefaultPlatformID, rule)
	}
}

// gatewayFleet is n facilities open around the clock, one centreGateway
// each, on the given broker address.
func gatewayFleet(t *testing.T, dir, broker string, n int) (facDir string, ids []string, gws []*centreGateway) {
	t.Helper()
	facDir = filepath.Join(dir, "facilities")
	if err := os.MkdirAll(facDir, 0o750); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("110105001-03%02d", i)
		ids = append(ids, id)
		writeFile(t, facDir, id+".yaml", doorFacilityYAML(id, platformRegion, "Asia/Shanghai", fmt.Sprintf("+86138000003%02d", i)))
	}
	for i, id := range ids {
		gws = append(gws, newCentreGateway(t, broker, id, platformRegion, fmt.Sprintf("gw-03%02d", i)))
	}
	return facDir, ids, gws
}

// fleetRules opens the facilities around the clock (a lost gateway is
// critical and reaches the street office at once) and shortens the gateway
// rule's times so the tests take seconds: silence 15 s, hold 3 s, grace 10 s.
func fleetRules(t *testing.T, dir string, ids []string) string {
	t.Helper()
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "    %q:\n      hours: [\"mon-sun 00:00-24:00\"]\n      rules:\n        gateway_offline: {silence: 15s, hold: 3s, reconnect_grace: 10s}\n", id)
	}
	return writeRulesOverlay(t, dir, b.String())
}

// fleet is n facilities' gateways on gatewayBroker watched by an alerting
// service on broker, every gateway heard.
type fleet struct {
	al  *alertingRun
	gws []*centreGateway
	sms *capture
}

func startFleet(t *testing.T, broker, gatewayBroker string, n int) fleet {
	t.Helper()
	dir := t.TempDir()
	facDir, ids, gws := gatewayFleet(t, dir, gatewayBroker, n)
	f := fleet{gws: gws, sms: &capture{}}
	f.al, _ = platformAlerting(t, broker, dir, facDir, fleetRules(t, dir, ids), f.sms)
	fleetHeard(t, f.al, n)
	return f
}

// fleetHeard waits until the service has heard every gateway at least
// twice (their periodic statuses).
func fleetHeard(t *testing.T, al *alertingRun, n int) {
	t.Helper()
	before := metric(t, al.url("/metrics"), "cw_alerting_messages_total", `outcome="status"`)
	if !waitMetric(t, al.url("/metrics"), "cw_alerting_messages_total", before+float64(2*n), 30*time.Second, `outcome="status"`) {
		t.Fatal("the gateways' statuses did not reach the alerting service")
	}
}

// quietFor waits d (the time a wrong page would need to appear: the hold,
// the grace, the grouping wait) and returns what was sent to others than
// the platform team meanwhile.
func quietFor(sms *capture, d time.Duration) []sent {
	time.Sleep(d)
	_, others := platformMessages(sms)
	return others
}

// TestCentreBrokerRestartPagesNoOperator restarts the centre's real
// Mosquitto under four facilities' gateways (last will, retained status)
// and the alerting service. The broker hands out the gateways' last wills
// and the service loses its own link: that is the platform's incident. The
// platform team is told (centre_link_lost, then its resolution); no
// operator and no street office hears anything, during or after.
func TestCentreBrokerRestartPagesNoOperator(t *testing.T) {
	broker := testenv.Mosquitto(t)
	const n = 4
	f := startFleet(t, broker.Addr(), broker.Addr(), n)
	al, sms := f.al, f.sms

	broker.Stop()
	broker.Start()
	if got := sms.waitFor(1, 60*time.Second, aboutPlatform(notify.KindResolved, "centre_link_lost")); len(got) == 0 {
		platform, others := platformMessages(sms)
		t.Fatalf("the platform team was not told of the restart and its end; platform %v, others %v", platform, others)
	}
	fleetHeard(t, al, n)
	if others := quietFor(sms, 15*time.Second); len(others) != 0 {
		t.Fatalf("a broker restart paged facilities:\n%s", sms.dump())
	}
	if got := sms.matching(aboutPlatform(notify.KindFiring, "centre_link_lost")); len(got) != 1 {
		t.Errorf("%d firing notices of centre_link_lost to the platform team, want 1:\n%s", len(got), sms.dump())
	}
	t.Logf("messages:\n%s", sms.dump())
}

// TestCentreBrokerDownForAWhile stops the centre's broker for longer than
// the gateways' silence (15 s here) plus the hold. The platform team is
// told while the broker is down; nobody else is, while it is down nor
// after it is back, except for the one facility whose gateway does not come
// back: once the centre is fine again, a gateway still gone after the
// grace is that facility's outage, paged to its operator and street office.
func TestCentreBrokerDownForAWhile(t *testing.T) {
	broker := testenv.Mosquitto(t)
	const n = 4
	f := startFleet(t, broker.Addr(), broker.Addr(), n)
	al, sms, gws := f.al, f.sms, f.gws

	broker.Stop()
	if got := sms.waitFor(1, 30*time.Second, aboutPlatform(notify.KindFiring, "centre_link_lost")); len(got) == 0 {
		t.Fatalf("the platform team was not told while the broker was down:\n%s", sms.dump())
	}
	lost := gws[n-1]
	lost.close() // its facility's gateway dies meanwhile and never returns
	// Down for longer than the gateways' silence and hold.
	if others := quietFor(sms, 20*time.Second); len(others) != 0 {
		t.Fatalf("paged while the centre's broker was down:\n%s", sms.dump())
	}
	broker.Start()
	if got := sms.waitFor(1, 60*time.Second, aboutPlatform(notify.KindResolved, "centre_link_lost")); len(got) == 0 {
		t.Fatalf("the platform team was not told the broker is back:\n%s", sms.dump())
	}
	fleetHeard(t, al, n-1)
	// Its operator and the street office hear of it (the street office
	// may get both the regulators' firing notice and its escalation step,
	// both at once in this policy).
	gone := func(s sent) bool {
		return (s.kind() == notify.KindFiring || s.kind() == notify.KindEscalation) && s.covers(lost.facility, "gateway_offline")
	}
	operator := func(s sent) bool { return gone(s) && s.Msg.To.ID == lost.facility+"/op0" }
	street := func(s sent) bool { return gone(s) && s.Msg.To.ID == platformStreet }
	if got := sms.waitFor(1, 30*time.Second, operator); len(got) != 1 {
		t.Fatalf("the gateway that did not come back: %d notices to its operator, want 1:\n%s", len(got), sms.dump())
	}
	if got := sms.waitFor(1, 30*time.Second, street); len(got) == 0 {
		t.Fatalf("the gateway that did not come back: nothing to the street office:\n%s", sms.dump())
	}
	_, others := platformMessages(sms)
	for _, s := range others {
		if !gone(s) {
			t.Errorf("unexpected: %s", s)
		}
	}
	t.Logf("messages:\n%s", sms.dump())
}

// TestGatewaysMassDrop cuts the network path of every gateway at once while
// the alerting service stays connected: the broker hands out all their last
// wills together. Many facilities cannot fail in the same second; their
// common path did: the platform team is told (gateways_mass_drop), no
// facility is paged, and when the path is mended the incident ends.
func TestGatewaysMassDrop(t *testing.T) {
	broker := testenv.Mosquitto(t)
	path := newCuttablePath(t, broker.Addr())
	sms := startFleet(t, broker.Addr(), path.Addr(), 4).sms

	path.cut()
	if got := sms.waitFor(1, 30*time.Second, aboutPlatform(notify.KindFiring, "gateways_mass_drop")); len(got) == 0 {
		t.Fatalf("the platform team was not told of the mass drop:\n%s", sms.dump())
	}
	if others := quietFor(sms, 5*time.Second); len(others) != 0 {
		t.Fatalf("a mass drop paged facilities:\n%s", sms.dump())
	}
	path.mend()
	if got := sms.waitFor(1, 60*time.Second, aboutPlatform(notify.KindResolved, "gateways_mass_drop")); len(got) == 0 {
		t.Fatalf("the mass drop did not end when the gateways came back:\n%s", sms.dump())
	}
	if others := quietFor(sms, 15*time.Second); len(others) != 0 {
		t.Fatalf("paged after the mass drop:\n%s", sms.dump())
	}
	t.Logf("messages:\n%s", sms.dump())
}

// TestBacklogInBatchesSendsNothing: the centre is unreachable while, in a
// facility closed for the night, a door opens and closes. When it is back
// the gateway sends a live batch first and then its backlog in several
// batches, with the door's opening and closing in different ones, and the
// service ticks between them. Nobody is paged, and the door's alert is in
// the record (firing and resolved, neither notified). Two facilities: one
// whose gateway flags its lanes (backlog, draining) with readings seconds
// old, one whose gateway does not, with readings twenty minutes old.
func TestBacklogInBatchesSendsNothing(t *testing.T) {
	broker := testenv.Mosquitto(t)
	dir := t.TempDir()
	zone, _ := eveningZone(time.Now())
	facDir := filepath.Join(dir, "facilities")
	if err := os.MkdirAll(facDir, 0o750); err != nil {
		t.Fatal(err)
	}
	flagged, plain := "110105001-0401", "110105001-0402"
	writeFile(t, facDir, flagged+".yaml", doorFacilityYAML(flagged, platformRegion, zone, "+8613800000401"))
	writeFile(t, facDir, plain+".yaml", doorFacilityYAML(plain, platformRegion, zone, "+8613800000402"))
	rulesFile := writeRulesOverlay(t, dir, "    {}\n")
	patchRules(t, rulesFile, "  replay_settle: 30s\n", "  replay_settle: 3s\n")
	sms := &capture{}
	al, cfg := platformAlerting(t, broker.Addr(), dir, facDir, rulesFile, sms)
	gwFlagged := newCentreGateway(t, broker.Addr(), flagged, platformRegion, "gw-0401")
	gwPlain := newCentreGateway(t, broker.Addr(), plain, platformRegion, "gw-0402")
	fleetHeard(t, al, 2)

	broker.Stop()
	outage := time.Now()
	broker.Start()
	fleetHeard(t, al, 2)

	reading := func(dev string, k model.Kind, at time.Time, v float64) model.Reading {
		return model.Reading{Device: dev, Room: "room-1", Kind: k, Time: at, Value: v}
	}
	temp := func(at time.Time) model.Reading { return reading("th-1", model.KindTemperature, at, 23) }
	door := func(at time.Time, v float64) model.Reading { return reading("door-1", model.KindDoor, at, v) }
	type batchOf struct {
		gw *centreGateway
		b  model.Batch
	}
	// As the gateway sends after an outage: live readings first, then the
	// backlog in index order, the door's opening and closing apart.
	old := outage.Add(-20 * time.Minute)
	batches := []batchOf{
		{gwFlagged, model.Batch{Lane: model.LaneLive, Draining: true, Readings: []model.Reading{temp(time.Now())}}},
		{gwPlain, model.Batch{Readings: []model.Reading{temp(time.Now())}}},
		{gwFlagged, model.Batch{Lane: model.LaneBacklog, Draining: true, Readings: []model.Reading{temp(outage.Add(-time.Second)), door(outage, 1)}}},
		{gwPlain, model.Batch{Readings: []model.Reading{temp(old), door(old.Add(time.Second), 1)}}},
		{gwFlagged, model.Batch{Lane: model.LaneBacklog, Draining: true, Readings: []model.Reading{temp(outage.Add(time.Second))}}},
		{gwPlain, model.Batch{Readings: []model.Reading{temp(old.Add(2 * time.Second))}}},
		{gwFlagged, model.Batch{Lane: model.LaneBacklog, Draining: false, Readings: []model.Reading{door(outage.Add(2*time.Second), 0), temp(outage.Add(3 * time.Second))}}},
		{gwPlain, model.Batch{Readings: []model.Reading{door(old.Add(3*time.Second), 0), temp(old.Add(4 * time.Second))}}},
	}
	seen := metric(t, al.url("/metrics"), "cw_alerting_batches_total")
	for i, b := range batches {
		b.gw.publish(t, b.b)
		if !waitMetric(t, al.url("/metrics"), "cw_alerting_batches_total", seen+float64(i+1), 30*time.Second) {
			t.Fatalf("batch %d did not reach the engine", i)
		}
		// Let the engine tick on the half-replayed state: the old mistake
		// announced it then.
		time.Sleep(2 * cfg.TickInterval)
	}
	for _, fac := range []string{flagged, plain} {
		var hist []rules.Transition
		if !poll(30*time.Second, func() bool {
			hist = alertHistory(t, cfg.StateDir, "door_open_after_hours", fac, "room-1", "door-1")
			return len(hist) > 0 && hist[len(hist)-1].To == rules.Resolved
		}) {
			t.Fatalf("%s: the door's alert was not recorded as fired and resolved: %+v", fac, hist)
		}
		var states []string
		for _, h := range hist {
			states = append(states, h.To.String())
			if h.Notify {
				t.Errorf("%s: the %s transition was to be notified", fac, h.To)
			}
		}
		if strings.Join(states, ",") != "firing,resolved" {
			t.Errorf("%s: door alert history %v, want firing,resolved", fac, states)
		}
	}
	// Past the settle time and the grouping wait: still nothing for anyone
	// but the platform team (told of the broker's restart).
	if others := quietFor(sms, 3*time.Second+2*cfg.Notify.GroupWait); len(others) != 0 {
		t.Fatalf("the backlog paged:\n%s", sms.dump())
	}
	t.Logf("messages:\n%s", sms.dump())
}
