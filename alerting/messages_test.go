package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/dingtalk"
	"github.com/cradlewatch/cradlewatch/alerting/notify/email"
	"github.com/cradlewatch/cradlewatch/alerting/notify/logsms"
	"github.com/cradlewatch/cradlewatch/alerting/notify/webhook"
	"github.com/cradlewatch/cradlewatch/alerting/notify/wecom"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/shortlink"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

var update = flag.Bool("update", false, "rewrite testdata/messages/*.golden from the current output")

// SMSSegment is how many characters of Chinese text fit one SMS (UCS-2);
// longer messages are billed as several and may arrive split.
const SMSSegment = 70

// sample is a value that breaks each rule, as its alert carries it.
var sample = map[string]struct{ value, limit float64 }{
	"temperature_range":       {29.3412, 28},
	"humidity_range":          {85.44, 80},
	"co2_hourly":              {1650.4, 1000},
	"co2_early":               {1712, 1500},
	"hcho_hourly":             {0.1234, 0.08},
	"tvoc_8h":                 {0.7345, 0.6},
	"pm25_daily":              {68.24, 50},
	"pm10_daily":              {131.6, 100},
	"door_open_after_hours":   {1, 0.5},
	"door_open_long":          {1, 0.5},
	"window_open_after_hours": {1, 0.5},
	"ventilation_daily":       {1, 2},
	"camera_offline":          {0, 0.5},
	"camera_not_recording":    {0, 0.5},
	"camera_retention":        {45, 90},
	"smoke_alarm":             {1, 0.5},
	"gas_alarm":               {1, 0.5},
	"temperature_rise":        {9.2341, 8},
	"device_silent":           {1311.5, 600},
	"gateway_offline":         {41.341299212, 300}, // the "41.341299212(限值300)"
	"centre_link_lost":        {0, 0},
	"gateways_mass_drop":      {12, 3}, // gateways lost, and the threshold
}

var goldenAt = time.Date(2025, 3, 3, 9, 5, 0, 0, time.FixedZone("CST", 8*3600))

// ruleAlert is rule's alert as the engine reports it in the example
// facility's infant room (a gateway's alert has no room).
func ruleAlert(t *testing.T, rs *rules.RuleSet, f *registry.Facility, rule string, state rules.State) notify.Alert {
	t.Helper()
	info, ok := rs.Info(rule)
	s, ok2 := sample[rule]
	if !ok || !ok2 {
		t.Fatalf("rule %s: no sample value in this test (info %v)", rule, ok)
	}
	sev := rules.Warning
	switch rule {
	case "hcho_hourly", "door_open_after_hours", "smoke_alarm", "gas_alarm", "temperature_rise", "gateway_offline",
		"centre_link_lost", "gateways_mass_drop":
		sev = rules.Critical
	}
	a := rules.Alert{Fingerprint: rules.Fingerprint(rule, f.ID, "infant-1", ""), Rule: rule, Facility: f.ID, Room: "infant-1",
		Kind: info.Kind, Severity: sev, State: state, Value: s.value, Limit: s.limit, Since: goldenAt, FiredAt: goldenAt,
		Description: ruleDescription(t, rule), Escalate: rule == "gateway_offline"}
	if info.Type == "gateway" {
		a.Room, a.Device = "", "gw-0001"
	}
	n := notifyAlert(rules.Transition{Alert: a, To: state, At: goldenAt}, f, info)
	n.AckCode = "48291306"
	return n
}

// ruleDescription reads a rule's description from configs/rules.yaml.
func ruleDescription(t *testing.T, rule string) string {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, "configs/rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "  - name: "+rule+"\n")
	if !ok {
		t.Fatalf("rule %s not in configs/rules.yaml", rule)
	}
	_, desc, _ := strings.Cut(after, "description: ")
	return strings.TrimSpace(strings.SplitN(desc, "\n", 2)[0])
}

// TestMessagesGolden renders every rule's firing, escalation, reminder and
// resolved message for SMS (what the phone shows, with the example's
// approved texts), webhook, DingTalk, WeCom and e-mail, and compares them
// with testdata/messages/*.golden (go test -run TestMessagesGolden -update
// rewrites them). It also holds the messages to what a teacher needs: one
// SMS segment, no machine values, no "reply" on channels that cannot.
func TestMessagesGolden(t *testing.T) {
	cfg := DefaultConfig()
	if err := config.Load(repoFile(t, "configs/alerting.example.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.LoadFile(repoFile(t, "configs/rules.yaml"), "")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.OpenDir(context.Background(), repoFile(t, "configs/facilities"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := reg.Snapshot().Facilities()[0]
	ncfg := cfg.Notify.Config
	to := notify.Contact{ID: "op", Name: "张园长", Phone: "13800001234", Email: "director@example.cn", DingTalk: "https://robot.invalid/dt",
		WeCom: "https://robot.invalid/wecom", Webhook: "https://regulator.invalid/hook"}
	sms := logsms.New(cfg.Notify.LogSMS, nil)
	// Links as a site with the console's public address has them (a fixed
	// key: the golden files hold the tokens).
	signer, err := shortlink.New([]byte("golden-shortlink-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	links := &notify.Links{Signer: signer, BaseURL: "https://cw.example.gov.cn"}
	kinds := []struct {
		kind  notify.Kind
		step  string
		state rules.State
	}{{notify.KindFiring, "operator", rules.Firing}, {notify.KindEscalation, "street", rules.Firing},
		{notify.KindReminder, "reminder", rules.Firing}, {notify.KindResolved, "resolved", rules.Resolved}}
	out := map[string]*bytes.Buffer{}
	for _, ch := range []string{"sms", "webhook", "dingtalk", "wecom", "email"} {
		out[ch] = &bytes.Buffer{}
	}
	render := func(title string, ch notify.Channel, k notify.Kind, step string, alerts []notify.Alert) notify.Message {
		m, err := notify.RenderMessage(ncfg, ch, to, k, step, alerts, goldenAt.Add(time.Minute), time.FixedZone("CST", 8*3600), links)
		if err != nil {
			t.Fatalf("%s: %v", title, err)
		}
		return m
	}
	write := func(title string, k notify.Kind, step string, alerts []notify.Alert) {
		m := render(title, notify.ChannelSMS, k, step, alerts)
		text := sms.Text(m)
		if n := utf8.RuneCountInString(text); len(alerts) == 1 && n > SMSSegment {
			t.Errorf("%s: SMS of %d characters, over one segment (%d): %s", title, n, SMSSegment, text)
		}
		fmt.Fprintf(out["sms"], "== %s (%d chars)\n%s\n\n", title, utf8.RuneCountInString(text), text)
		m = render(title, notify.ChannelWebhook, k, step, alerts)
		wb, err := webhook.Body(m)
		if err != nil {
			t.Fatal(err)
		}
		var pretty bytes.Buffer
		json.Indent(&pretty, wb, "", "  ")
		fmt.Fprintf(out["webhook"], "== %s\n%s\n\n", title, pretty.String())
		var dt struct{ Markdown struct{ Title, Text string } }
		unmarshal(t, title, dingtalk.Body(render(title, notify.ChannelDingTalk, k, step, alerts)), &dt)
		fmt.Fprintf(out["dingtalk"], "== %s\ntitle: %s\n%s\n\n", title, dt.Markdown.Title, dt.Markdown.Text)
		var wc struct{ Markdown struct{ Content string } }
		unmarshal(t, title, wecom.Body(render(title, notify.ChannelWeCom, k, step, alerts)), &wc)
		fmt.Fprintf(out["wecom"], "== %s\n%s\n\n", title, wc.Markdown.Content)
		em := render(title, notify.ChannelEmail, k, step, alerts)
		mail := email.Compose("cradlewatch@example.cn", em, goldenAt.Add(time.Minute))
		fmt.Fprintf(out["email"], "== %s (subject: %s)\n%s\n", title, em.Subject, strings.ReplaceAll(mail, "\r\n", "\n"))
		for _, ch := range []notify.Channel{notify.ChannelWebhook, notify.ChannelDingTalk, notify.ChannelWeCom, notify.ChannelEmail} {
			if txt := render(title, ch, k, step, alerts).Text; strings.Contains(txt, "回复") {
				t.Errorf("%s on %s asks to reply, which only an SMS can: %s", title, ch, txt)
			}
		}
	}
	for _, rule := range rs.Names() {
		for _, k := range kinds {
			a := ruleAlert(t, rs, f, rule, k.state)
			if strings.Contains(a.Value+a.Limit+a.Detail, "41.34") || strings.Contains(a.Detail, "0.5") {
				t.Errorf("%s: a machine value in the message: %+v", rule, a)
			}
			write(rule+" / "+string(k.kind), k.kind, k.step, []notify.Alert{a})
		}
	}
	// A facility's warnings grouped in one message: every code is in it.
	var group []notify.Alert
	for i, rule := range []string{"co2_hourly", "temperature_range", "camera_offline"} {
		a := ruleAlert(t, rs, f, rule, rules.Firing)
		a.AckCode = fmt.Sprintf("%08d", 11111111*(i+1))
		group = append(group, a)
	}
	write("three warnings grouped / firing", notify.KindFiring, "operator", group)
	for _, code := range []string{"11111111", "22222222", "33333333"} {
		if !strings.Contains(out["sms"].String(), code) || !strings.Contains(out["wecom"].String(), code) {
			t.Errorf("code %s of a grouped message is missing", code)
		}
	}
	for ch, b := range out {
		golden(t, filepath.Join("testdata", "messages", ch+".golden"), b.Bytes())
	}
}

func unmarshal(t *testing.T, title string, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Errorf("%s: body %s: %v", title, b, err)
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output; run go test -run TestMessagesGolden -update and review the diff:\n%s", path, firstDiff(want, got))
	}
}

func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n want %q\n  got %q", i+1, w, g)
		}
	}
	return ""
}

// TestFormatValue: units and precision a reader expects.
func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		k    model.Kind
		v    float64
		want string
	}{
		{model.KindTemperature, 29.3412, "29.3℃"}, {model.KindTemperature, 28, "28℃"}, {model.KindHumidity, 85.44, "85%"},
		{model.KindCO2, 1650.4, "1650ppm"}, {model.KindHCHO, 0.1234, "0.12mg/m³"}, {model.KindHCHO, 0.08, "0.08mg/m³"},
		{model.KindPM25, 68.24, "68μg/m³"}, {model.KindCameraRetention, 45, "45天"}, {model.KindDoor, 1, "开启"},
	} {
		if got := formatValue(tc.k, tc.v); got != tc.want {
			t.Errorf("formatValue(%s, %v) = %q, want %q", tc.k, tc.v, got, tc.want)
		}
	}
}
