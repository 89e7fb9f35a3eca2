package alerting

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
)

var night = time.Date(2026, 5, 12, 22, 0, 0, 0, time.FixedZone("CST", 8*3600))

var (
	operatorA = model.Actor{Kind: "person", ID: "acc-7", Name: "王老师", Role: "operator"}
	countyA   = model.Actor{Kind: "person", ID: "acc-9", Name: "朝阳区卫健委", Role: "county", Region: "110105"}
	streetA   = model.Actor{Kind: "token", ID: "tok-1", Name: "street-bot", Role: "street", Region: "110105001"}
)

// do answers c as the control bus's handler does.
func (ts *testService) do(t *testing.T, c model.Command) model.Reply {
	t.Helper()
	if c.ID == "" {
		c.ID = "cmd-" + string(c.Kind)
	}
	return ts.command(t.Context(), c)
}

func decode[T any](t *testing.T, r model.Reply) T {
	t.Helper()
	var v T
	if r.Status != model.ReplyOK {
		t.Fatalf("reply %s: %s", r.Status, r.Error)
	}
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	return v
}

// alerts waits until the engine holds want alerts in the scope of c.
func (ts *testService) alerts(t *testing.T, c model.Command, want int) []model.AlertView {
	t.Helper()
	c.Kind = model.CommandAlerts
	var out []model.AlertView
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		out = decode[[]model.AlertView](t, ts.do(t, c))
		if len(out) == want || time.Now().After(end) {
			return out
		}
	}
}

// TestListAlertsByRegion: list_alerts is scoped by model.RegionCode over
// the registry's region, or by an operator's facilities, and narrowed by
// state; a malformed scope is refused, not widened.
func TestListAlertsByRegion(t *testing.T) {
	ts := startTestService(t, testConfig(t), night)
	for _, f := range testRegistry().Snapshot().Facilities() {
		ts.door(f.ID, 1) // door_open_after_hours in each
	}
	ts.alerts(t, model.Command{}, 3)
	for region, want := range map[string]int{
		"": 3, "110000": 2, "110100": 2, "110105": 1, "110110": 0, "110105001": 1, "110101001": 1, "310000": 1,
	} {
		if got := ts.alerts(t, model.Command{Region: region}, want); len(got) != want {
			t.Errorf("region %q: %d alerts, want %d", region, len(got), want)
		}
	}
	if got := ts.alerts(t, model.Command{Facilities: []string{"F-chaoyang", "F-nowhere"}}, 1); got[0].Facility != "F-chaoyang" {
		t.Errorf("an operator's facilities: %+v", got)
	}
	for _, bad := range []model.Command{{Region: "11"}, {Region: "1101051"}, {Region: "11010x"}, {Region: "000000"}, {State: "burning"}} {
		bad.Kind = model.CommandAlerts
		if r := ts.do(t, bad); r.Status != model.ReplyInvalid || r.Error == "" {
			t.Errorf("%+v: %s %q, want invalid with a reason", bad, r.Status, r.Error)
		}
	}
	if got := ts.alerts(t, model.Command{State: "firing", Region: "110105001"}, 1); len(got) != 1 || got[0].State != "firing" {
		t.Errorf("state filter: %+v", got)
	}
	// An empty list is [], not null: the front door merges it.
	if r := ts.do(t, model.Command{Kind: model.CommandAlerts, Region: "110110"}); string(r.Body) != "[]" {
		t.Errorf("empty list: %s", r.Body)
	}
}

// TestAlertViewAndHistory: get_alert answers the facility's alert in
// whatever state with its history, in model/control.go's snake_case
// bodies; another facility's alert and a malformed fingerprint are not
// found.
func TestAlertViewAndHistory(t *testing.T) {
	ts := startTestService(t, testConfig(t), night)
	ts.door("F-chaoyang", 1)
	fp := ts.alerts(t, model.Command{}, 1)[0].Fingerprint
	r := ts.do(t, model.Command{Kind: model.CommandAlert, Facility: "F-chaoyang", Ref: fp})
	var raw map[string]any
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"rule": "door_open_after_hours", "facility": "F-chaoyang", "room": "r1", "device": "door-1", "kind": "door",
		"severity": "critical", "state": "firing", "fired_at": "2026-05-12T14:00:00Z", "value": 1.0, "limit": 0.5,
	} {
		if raw[k] != want {
			t.Errorf("%s = %#v, want %#v", k, raw[k], want)
		}
	}
	for k := range raw {
		if strings.ToLower(k) != k {
			t.Errorf("key %q is not snake_case", k)
		}
	}
	ts.advance(time.Minute)
	ts.door("F-chaoyang", 0)
	ts.alerts(t, model.Command{}, 0)
	a := decode[model.AlertView](t, ts.do(t, model.Command{Kind: model.CommandAlert, Facility: "F-chaoyang", Ref: fp}))
	if a.State != "resolved" || len(a.History) != 2 || a.History[0].From != "inactive" || a.History[0].To != "firing" ||
		a.History[1].To != "resolved" || !a.History[1].At.Equal(night.Add(time.Minute)) {
		t.Fatalf("alert with history: %+v", a)
	}
	for _, c := range []model.Command{{Facility: "F-dongcheng", Ref: fp}, {Facility: "F-chaoyang", Ref: "0123456789abcdef"}, {Facility: "F-chaoyang", Ref: "xyz"}} {
		c.Kind = model.CommandAlert
		if r := ts.do(t, c); r.Status != model.ReplyNotFound {
			t.Errorf("%+v: %s, want not_found", c, r.Status)
		}
	}
}

// TestPlatformAlertListed: losing the link to the broker is recorded like
// any alert, as the platform's: listed for the whole country, in no
// region.
func TestPlatformAlertListed(t *testing.T) {
	start := time.Date(2026, 5, 12, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	ts := startTestService(t, testConfig(t), start)
	ts.link.connected(start)
	ts.link.lost(start.Add(time.Second))
	a := ts.alerts(t, model.Command{}, 1)[0]
	if a.Rule != "centre_link_lost" || a.Facility != rules.DefaultPlatformID {
		t.Fatalf("%+v", a)
	}
	if n := ts.alerts(t, model.Command{Region: "110000"}, 0); len(n) != 0 {
		t.Fatalf("a platform alert has no region: %+v", n)
	}
	ts.link.connected(start.Add(2 * time.Second))
	ts.alerts(t, model.Command{}, 0)
}

// TestAckByCommand: the actor is the command's (the front door's
// identity), never a body field; the comment is in the history; a second
// acknowledgement leaves the first standing; an alert of another facility
// or not firing is not found; the audit trail names the person.
func TestAckByCommand(t *testing.T) {
	cfg := testConfig(t)
	ts := startTestService(t, cfg, night)
	ts.door("F-chaoyang", 1)
	ts.door("F-dongcheng", 1)
	fp := ts.alerts(t, model.Command{Facilities: []string{"F-chaoyang"}}, 1)[0].Fingerprint
	if r := ts.do(t, model.Command{Kind: model.CommandAck, Facility: "F-dongcheng", Ref: fp, Actor: operatorA}); r.Status != model.ReplyNotFound {
		t.Fatalf("ack naming another facility: %s", r.Status)
	}
	a := decode[model.AlertView](t, ts.do(t, model.Command{Kind: model.CommandAck, Facility: "F-chaoyang", Ref: fp, Actor: operatorA, Comment: "已关门"}))
	if a.State != "acknowledged" || a.AcknowledgedBy != "person:acc-7" || a.AcknowledgedByName != "王老师" || !a.AcknowledgedAt.Equal(night) {
		t.Fatalf("after ack: %+v", a)
	}
	again := decode[model.AlertView](t, ts.do(t, model.Command{Kind: model.CommandAck, Facility: "F-chaoyang", Ref: fp, Actor: countyA}))
	if again.AcknowledgedBy != "person:acc-7" {
		t.Fatalf("a second ack changed the first: %+v", again)
	}
	full := decode[model.AlertView](t, ts.do(t, model.Command{Kind: model.CommandAlert, Facility: "F-chaoyang", Ref: fp}))
	last := full.History[len(full.History)-1]
	if last.To != "acknowledged" || last.Actor != "person:acc-7" || last.ActorName != "王老师" || last.Note != "已关门" {
		t.Fatalf("history: %+v", full.History)
	}
	if r := ts.do(t, model.Command{Kind: model.CommandAck, Facility: "F-chaoyang", Ref: "0123456789abcdef", Actor: operatorA}); r.Status != model.ReplyNotFound {
		t.Fatalf("unknown alert: %s", r.Status)
	}
	recs := ts.auditRecords(t, cfg, "F-chaoyang", func(r audit.Record) bool { return r.Action == audit.ActionAcknowledge })
	var ack, fired bool
	for _, r := range recs {
		switch r.Action {
		case audit.ActionAcknowledge:
			ack = r.Actor == "person:acc-7" && r.ActorName == "王老师" && r.ActorRole == "operator F-chaoyang" && r.Subject == fp &&
				strings.Contains(r.Detail, "已关门") && r.Region == "110105001"
		case audit.ActionAlertTransition:
			fired = fired || (r.Actor == "service:alerting-0" && strings.Contains(r.Detail, `"to":"firing"`))
		}
	}
	if !ack || !fired {
		t.Fatalf("audit trail: acknowledgement by the person %v, firing by the service %v: %+v", ack, fired, recs)
	}
}

// TestSilencePolicyAtTheOwner: the owner applies the silence policy over
// the facility's silences: a reason, at most 24 h below a county, at most
// the maximum, and the cap over 30 days counting an ended silence by its
// real end; refusals are sentences for a person. Silences are listed and
// ended; a configured one cannot be ended at run time.
func TestSilencePolicyAtTheOwner(t *testing.T) {
	cfg := testConfig(t)
	cfg.Notify.Silences = []notify.Silence{{ID: "cfg-1", Facility: "F-chaoyang", Start: night.Add(-48 * time.Hour), End: night.Add(-24 * time.Hour),
		CreatedBy: "李工", Reason: "装修"}}
	ts := startTestService(t, cfg, night)
	sil := func(a model.Actor, fac string, d time.Duration, reason string) model.Reply {
		return ts.do(t, model.Command{Kind: model.CommandSilence, Facility: fac, Start: ts.clock(), End: ts.clock().Add(d), Reason: reason, Actor: a})
	}
	for name, tc := range map[string]struct {
		r    model.Reply
		want string
	}{
		"no reason":              {sil(operatorA, "F-chaoyang", time.Hour, " "), "原因"},
		"operator past 24 h":     {sil(operatorA, "F-chaoyang", 48*time.Hour, "检修"), "区县"},
		"past the maximum":       {sil(countyA, "F-chaoyang", 8*24*time.Hour, "装修"), "配置文件"},
		"street out of its area": {sil(streetA, "F-dongcheng", time.Hour, "检修"), "无权"},
	} {
		if tc.r.Status != model.ReplyRefused || !strings.Contains(tc.r.Error, tc.want) {
			t.Errorf("%s: %s %q, want refused saying %q", name, tc.r.Status, tc.r.Error, tc.want)
		}
	}
	// A county silences for six days (the configured day counts: 7 of 7).
	first := decode[model.SilenceView](t, sil(countyA, "F-chaoyang", 6*24*time.Hour, "装修"))
	if first.ID == "" || first.CreatedBy != "person:acc-9" || first.Reason != "装修" {
		t.Fatalf("silence: %+v", first)
	}
	next := model.Command{Kind: model.CommandSilence, Facility: "F-chaoyang", Start: first.End, End: first.End.Add(time.Hour), Reason: "再检修", Actor: countyA}
	if r := ts.do(t, next); r.Status != model.ReplyRefused || !strings.Contains(r.Error, "上限") {
		t.Fatalf("past the cap: %s %q", r.Status, r.Error)
	}
	// Ended after a day, it counts one day: there is room again.
	ts.advance(24 * time.Hour)
	ended := decode[model.SilenceView](t, ts.do(t, model.Command{Kind: model.CommandUnsilence, Facility: "F-chaoyang", SilenceID: first.ID, Actor: countyA}))
	if !ended.EndedAt.Equal(ts.clock()) || !ended.End.Equal(first.End) {
		t.Fatalf("ended: %+v", ended)
	}
	if r := ts.do(t, model.Command{Kind: model.CommandUnsilence, Facility: "F-chaoyang", SilenceID: first.ID, Actor: countyA}); r.Status != model.ReplyNotFound {
		t.Fatalf("ended twice: %s", r.Status)
	}
	if r := ts.do(t, model.Command{Kind: model.CommandUnsilence, Facility: "F-chaoyang", SilenceID: "cfg-1", Actor: countyA}); r.Status != model.ReplyNotFound {
		t.Fatalf("a configured silence in the past: %s", r.Status)
	}
	decode[model.SilenceView](t, sil(operatorA, "F-chaoyang", 2*time.Hour, "检修"))
	list := decode[[]model.SilenceView](t, ts.do(t, model.Command{Kind: model.CommandSilences, Facilities: []string{"F-chaoyang"}}))
	if len(list) != 3 || !list[0].Configured || list[0].CreatedBy != "" || list[1].EndedAt.IsZero() {
		t.Fatalf("list: %+v", list)
	}
	if other := decode[[]model.SilenceView](t, ts.do(t, model.Command{Kind: model.CommandSilences, Region: "310000"})); len(other) != 0 {
		t.Fatalf("another region's silences: %+v", other)
	}
}

// auditRecords waits until the instance's chain in the access database
// holds a record for which want is true, and returns the facility's.
func (ts *testService) auditRecords(t *testing.T, cfg Config, facility string, want func(audit.Record) bool) []audit.Record {
	t.Helper()
	st, err := store.Open(t.Context(), store.Options{Driver: store.DriverSQLite, DSN: cfg.Access.Database.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var recs []audit.Record
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if err := ts.trail.w.Flush(t.Context()); err != nil {
			continue
		}
		recs = recs[:0]
		found := false
		if err := st.ScanAudit(t.Context(), cfg.Access.Audit.Chain, func(r audit.Record) error {
			if r.Facility == facility {
				recs = append(recs, r)
				found = found || want(r)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if found {
			break
		}
	}
	return recs
}

// TestSecretsAreChecked: a placeholder or short control bus secret, a
// short phone key and a missing link key fail the start, naming the key.
func TestSecretsAreChecked(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, tc := range map[string]struct {
		set func(*Config)
		key string
	}{
		"placeholder ctl": {func(c *Config) { c.Ctl.SecretFile = write("ph", "change-me-change-me-change-me-change-me") }, "ctl.secret_file"},
		"short ctl":       {func(c *Config) { c.Ctl.SecretFile = write("short", "0123456789abcdefghij") }, "ctl.secret_file"},
		"short phone key": {func(c *Config) { c.Access.PhoneKeyFile = write("pk", "0123456789abcdefghij") }, "access.phone_key_file"},
		"no link key": {func(c *Config) {
			c.Notify.Links.BaseURL, c.Notify.Links.KeyFile = "https://cw.example.gov.cn", filepath.Join(dir, "missing")
		}, "notify.links.key_file"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t)
			tc.set(&cfg)
			_, err := newService(cfg)
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Key != tc.key {
				t.Fatalf("got %v, want key %s", err, tc.key)
			}
		})
	}
}
