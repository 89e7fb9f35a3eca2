package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/access/store/storetest"
	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/console"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// frontDoorFacilities picks the test's two facilities: owned, watched by
// instance 1 of 2 while its smoke alarm's fingerprint hashes to instance 0
// (so a router that picked by alert, or the first instance, would miss
// it); and control, watched by instance 0.
func frontDoorFacilities() (owned, control string) {
	for k := 1; owned == "" || control == ""; k++ {
		id := fmt.Sprintf("110105001-%04d", k)
		fp := rules.Fingerprint("smoke_alarm", id, "room-1", "smoke-1")
		switch {
		case owned == "" && model.ShardOf(id, 2) == 1 && model.ShardOf(fp, 2) == 0:
			owned = id
		case control == "" && model.ShardOf(id, 2) == 0:
			control = id
		}
	}
	return owned, control
}

// TestAcknowledgeThroughTheFrontDoor runs two alerting instances (shards 0
// and 1) and the front door on real Mosquitto, influxd and the access
// database (SQLite, and PostgreSQL): an operator acknowledges a critical
// smoke alarm through the JSON API, with a session, naming only the
// alert's fingerprint; the facility belongs to instance 1, and the
// fingerprint hashes to instance 0. The command reaches instance 1 and no
// other; its escalation stops (the street office, told of a later alarm
// of another facility at its step, hears nothing of this one); the street
// office acknowledges that other alarm by SMS reply with the code from its
// escalation, through the provider callback, and instance 0 takes it. The
// audit trail shows the operator's identity in instance 1's chain and the
// front door's, `cwadmin audit verify` passes on every chain, and finds a
// record edited afterwards.
func TestAcknowledgeThroughTheFrontDoor(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) { acknowledgeThroughTheFrontDoor(t, e.Postgres()) })
	}
}

func acknowledgeThroughTheFrontDoor(t *testing.T, pg *testenv.PostgresServer) {
	broker := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	if err := inf.CreateDatabase(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	owned, control := frontDoorFacilities()
	const streetPhone = "13900000007"
	facDir := filepath.Join(dir, "facilities")
	if err := os.MkdirAll(facDir, 0o750); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{owned, control} {
		writeFile(t, facDir, id+".yaml", smokeFacilityYAML(id, "gw-"+id[len(id)-4:], fmt.Sprintf("+86138000002%02d", i)))
	}
	rulesFile := writeRulesOverlay(t, dir, "    {}\n")
	critical := notify.Policy{Steps: []notify.Step{
		{Name: "operator", Targets: []notify.Target{notify.TargetOperator}},
		{Name: "street", After: streetAfter, Targets: []notify.Target{notify.TargetStreet}},
		{Name: "county", After: countyAfter, Targets: []notify.Target{notify.TargetCounty}},
	}}
	d := newDeployment(t, dir, 2, pg)
	sms := &capture{}
	instances := make([]*alertingRun, 2)
	for i := range instances {
		ncfg := notifyConfig(filepath.Join(dir, fmt.Sprintf("notify-%d", i)), map[string]notify.Policy{"critical": critical},
			map[string][]notify.Contact{"110105001": {{ID: streetID, Name: "街道办", Phone: streetPhone}},
				"110105": {{ID: countyID, Name: "区卫健委", Phone: "13700000007"}}})
		cfg := alertingConfig(broker.Addr(), inf, facDir, rulesFile, filepath.Join(dir, fmt.Sprintf("alerting-%d", i)), ncfg)
		cfg.MQTT.ClientID = fmt.Sprintf("cw-alerting-e2e-%d", i)
		d.alerting(&cfg, i)
		instances[i] = startAlerting(t, cfg, sms)
	}
	front := d.startFrontDoor(broker.Addr(), inf.URL(), facDir, rulesFile)
	operator := front.account("wang-laoshi", authn.Grant{Role: access.RoleOperator, Facilities: []string{owned}}, false)
	county := front.account("chaoyang-wjw", authn.Grant{Role: access.RoleCounty, Region: model.MustRegionCode("110105")}, true)
	county.waitAllShards()

	// Each instance has read a batch: its subscriptions are made.
	pub := newBatchPublisher(t, broker.Addr())
	for _, id := range []string{owned, control} {
		shard := model.ShardOf(id, 2)
		waitUntil(t, 30*time.Second, "instance "+fmt.Sprint(shard)+" reads "+id, func() bool {
			pub.reading(t, id, "gw-"+id[len(id)-4:], "room-1", "smoke-1", model.KindSmoke, 0)
			return metric(t, instances[shard].url("/metrics"), "cw_alerting_messages_total", `outcome="batch"`) >= 1
		})
	}
	pub.reading(t, owned, "gw-"+owned[len(owned)-4:], "room-1", "smoke-1", model.KindSmoke, 1)
	if got := sms.waitFor(1, 30*time.Second, of(notify.KindFiring, owned, "smoke_alarm")); len(got) == 0 {
		t.Fatalf("no smoke alarm SMS for %s; messages:\n%s", owned, sms.dump())
	}
	// The control facility's alarm starts after: its street step comes
	// after the one the acknowledgement must cancel.
	pub.reading(t, control, "gw-"+control[len(control)-4:], "room-1", "smoke-1", model.KindSmoke, 1)

	fp := rules.Fingerprint("smoke_alarm", owned, "room-1", "smoke-1")
	var acked model.AlertView
	if code, body := operator.do("POST", "/api/v1/alerts/"+fp+"/ack", console.AckJSON{Comment: "已疏散，误报排查中"}, &acked); code != http.StatusOK {
		t.Fatalf("the operator's acknowledgement: %d %s", code, body)
	}
	if acked.State != "acknowledged" || acked.Facility != owned || acked.AcknowledgedBy != "person:"+operator.id || acked.AcknowledgedByName != "wang-laoshi" {
		t.Fatalf("acknowledged: %+v", acked)
	}
	ackOK := func(i int) float64 {
		return metric(t, instances[i].url("/metrics"), "cw_ctl_commands_total", `kind="ack"`, `result="ok"`)
	}
	if ackOK(1) != 1 || metric(t, instances[0].url("/metrics"), "cw_ctl_commands_total", `kind="ack"`) != 0 {
		t.Fatalf("the acknowledgement reached instance 1 %v times and instance 0 %v times; want once, never",
			ackOK(1), metric(t, instances[0].url("/metrics"), "cw_ctl_commands_total", `kind="ack"`))
	}
	// Read back through the front door by another person: the owner has it,
	// with the comment, whichever way it is asked.
	var view model.AlertView
	if code, body := county.do("GET", "/api/v1/alerts/"+fp+"?facility="+owned, nil, &view); code != 200 ||
		view.State != "acknowledged" || !strings.Contains(body, "已疏散") {
		t.Fatalf("the county reads the alert: %d %s", code, body)
	}

	// The street office is told of the control facility's alarm at its
	// step, and of the acknowledged one never.
	streetOf := func(fac string) func(sent) bool {
		return func(s sent) bool {
			return s.kind() == notify.KindEscalation && s.Msg.To.ID == streetID && s.covers(fac, "smoke_alarm")
		}
	}
	esc := sms.waitFor(1, 40*time.Second, streetOf(control))
	if len(esc) == 0 {
		t.Fatalf("no street escalation of %s; messages:\n%s", control, sms.dump())
	}
	if got := sms.matching(func(s sent) bool { return s.covers(owned, "smoke_alarm") && s.kind() != notify.KindFiring }); len(got) != 0 {
		t.Fatalf("after the acknowledgement %s got %v; messages:\n%s", owned, got, sms.dump())
	}

	// The street office answers its SMS with the code: the front door
	// sends the code to every instance, and instance 0 takes it.
	code := esc[0].Msg.Params[notify.ParamCode]
	if status, body := front.pushSMSReply(streetPhone, "确认"+code); status != http.StatusOK {
		t.Fatalf("the street office's reply: %d %s", status, body)
	}
	var ctrl model.AlertView
	if status, body := county.do("GET", "/api/v1/alerts/"+rules.Fingerprint("smoke_alarm", control, "room-1", "smoke-1"), nil, &ctrl); status != 200 ||
		ctrl.State != "acknowledged" || !strings.HasPrefix(ctrl.AcknowledgedBy, "sms:pk1:") || ctrl.AcknowledgedByName != "139****0007" {
		t.Fatalf("the control alarm after the street office's reply: %d %s", status, body)
	}

	// Stopped, every writer stores what it buffered; then the trail is read.
	for _, in := range instances {
		in.stop()
	}
	front.stop()
	st := d.store()
	var byOwner, byFront bool
	for _, chain := range []string{"alerting-1", "console-e2e"} {
		if err := st.ScanAudit(t.Context(), chain, func(r audit.Record) error {
			if r.Action == audit.ActionAcknowledge && r.Subject == fp && r.Actor == "person:"+operator.id && r.ActorName == "wang-laoshi" &&
				r.Facility == owned && r.Region == "110105001" {
				byOwner = byOwner || chain == "alerting-1"
				byFront = byFront || chain == "console-e2e"
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if !byOwner || !byFront {
		t.Fatalf("the audit trail names the operator: in the owner's chain %v, the front door's %v", byOwner, byFront)
	}
	status, out := d.cwadmin("audit", "verify", "-pubkey", d.anchor+".pub")
	if status != 0 || !strings.Contains(out, "audit trail verified") {
		t.Fatalf("cwadmin audit verify: %d\n%s", status, out)
	}
	for _, chain := range []string{"alerting-0", "alerting-1", "console-e2e"} {
		if !strings.Contains(out, "chain "+chain+":") {
			t.Errorf("verify did not check chain %s:\n%s", chain, out)
		}
	}
	t.Logf("cwadmin audit verify:\n%s", out)

	// Someone with the database edits the acknowledgement's detail.
	res, err := st.DB().ExecContext(t.Context(), `UPDATE audit_records SET detail = $1 WHERE chain = $2 AND action = $3 AND subject = $4`,
		`{"via":"ctl","comment":"edited later"}`, "alerting-1", audit.ActionAcknowledge, fp)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("edit: %v (%d rows)", err, n)
	}
	status, out = d.cwadmin("audit", "verify", "-pubkey", d.anchor+".pub")
	if status != 1 || !strings.Contains(out, "alerting-1 #") || !strings.Contains(out, string(audit.ProblemEdited)) {
		t.Fatalf("cwadmin audit verify after the edit: %d, want 1 naming the record\n%s", status, out)
	}
	t.Logf("after the edit:\n%s", out)
}
