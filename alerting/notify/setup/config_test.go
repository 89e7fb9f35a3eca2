package setup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/internal/config"
)

// service mirrors how the alerting service embeds the section.
type service struct {
	Notify Config `mapstructure:"notify"`
}

func (s *service) Validate() error { return s.Notify.Validate() }

// embed indents a notify section under "notify:", as the lead does when
// building configs/alerting.example.yaml.
func embed(t *testing.T, section string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("notify:\n")
	for _, line := range strings.Split(section, "\n") {
		if line != "" {
			b.WriteString("  ")
		}
		b.WriteString(line + "\n")
	}
	p := filepath.Join(t.TempDir(), "alerting.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExampleLoadsThroughConfigLoad(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "notify.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := service{Notify: DefaultConfig()}
	if err := config.Load(embed(t, string(raw)), &s); err != nil {
		t.Fatal(err)
	}
	c := s.Notify
	if c.StateDir != "/var/lib/cradlewatch/notify" || c.GroupWait != 30*time.Second || c.SMSProvider != ProviderLog {
		t.Fatalf("top level: %+v", c.Config)
	}
	if c.Budget.ExhaustedFor != 24*time.Hour || c.Retry.MaxBackoff != time.Minute || c.Retry.AttemptTimeout != 10*time.Second {
		t.Fatalf("durations: %+v %+v", c.Budget, c.Retry)
	}
	crit := c.Policies["critical"]
	if crit.Repeat != 15*time.Minute || crit.RepeatMax != 8 || len(crit.Steps) != 3 || crit.Steps[2].After != 30*time.Minute ||
		crit.Steps[2].Targets[0] != notify.TargetCounty {
		t.Fatalf("critical policy: %+v", crit)
	}
	ops := c.Directory.Operators["fac-0001"]
	if len(ops) != 1 || ops[0].Phone != "13800000000" || ops[0].DingTalkSecret != "SEC_CHANGE_ME" {
		t.Fatalf("operators: %+v", c.Directory.Operators)
	}
	if got := c.Directory.Regions["110105"]; len(got) != 1 || got[0].Email != "duty@example.cn" {
		t.Fatalf("county contacts: %+v", got)
	}
	if c.Templates["zh"].SMS[notify.KindFiring] != "SMS_CW_ALERT" || !strings.Contains(c.Templates["en"].Text[notify.KindResolved], "back to normal") {
		t.Fatalf("templates: %+v", c.Templates)
	}
	if len(c.Silences) != 1 || c.Silences[0].CreatedBy != "李工" || c.Silences[0].End.Sub(c.Silences[0].Start) != 4*time.Hour {
		t.Fatalf("silences: %+v", c.Silences)
	}
	if c.Aliyun.Timeout != 10*time.Second || c.Tencent.SdkAppID != "1400000000" || len(c.Tencent.ParamOrder) != 5 ||
		c.HTTPSMS.URL == "" || !c.Email.RequireStartTLS || c.Webhook.DefaultSecret != "CHANGE_ME" {
		t.Fatalf("providers: %+v", c)
	}
	if len(c.LogSMS.Templates) != 6 || c.LogSMS.SignName != "托育安全" {
		t.Fatalf("log_sms: %+v", c.LogSMS)
	}
	if c.GroupWaitCritical != 0 || c.GroupWaitRules["co2_hourly"] != time.Minute || c.VoiceProvider != ProviderLog ||
		c.Templates["zh"].Voice[notify.KindFiring] != "TTS_CW_ALERT" || c.TencentVoice.VoiceSdkAppID != "1400006666" {
		t.Fatalf("grouping and voice: %+v", c)
	}
}

func TestConfigFiles(t *testing.T) {
	tests := []struct {
		file string
		want string // substring of the error; empty for a good file
	}{
		{"minimal.good.yaml", ""},
		{"zero-wait.good.yaml", ""},
		{"partial-policies.good.yaml", ""},
		{"failover.good.yaml", ""},
		{"unknown-key.bad.yaml", "per_dya"},
		{"provider.bad.yaml", `sms_provider: "yunpian" is not one of`},
		{"aliyun-missing.bad.yaml", "aliyun.access_key_secret, aliyun.sign_name: required for sms_provider aliyun"},
		{"duration.bad.yaml", "group_wait"},
		{"no-state-dir.bad.yaml", "state_dir: must be set"},
		{"param-order.bad.yaml", `tencent.param_order[1]: unknown parameter "rooom"`},
		{"policy.bad.yaml", "policies.urgent"},
		{"negative-wait.bad.yaml", "group_wait: -1s is negative"},
		{"long-wait.bad.yaml", "group_wait_critical: 2h0m0s is longer than 1h0m0s"},
		{"rule-wait.bad.yaml", "group_wait_rules.smoke_alarm: -5s is negative"},
		{"step-after.bad.yaml", "policies.critical.steps[1].after: -10m0s is negative"},
		{"repeat.bad.yaml", "policies.critical.repeat: 10s is shorter than a minute"},
		{"backoff.bad.yaml", "retry.initial_backoff: 2m0s is longer than retry.max_backoff"},
		{"providers-twice.bad.yaml", `sms_providers: "log" is listed twice`},
		{"voice-template.bad.yaml", "templates.zh.voice.firing: required for voice_provider aliyun"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			s := service{Notify: DefaultConfig()}
			err := config.Load(filepath.Join("testdata", tc.file), &s)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("loaded; want error containing %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not contain %q", err, tc.want)
			case err != nil && !strings.Contains(err.Error(), tc.file):
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
}

// TestConfigMeansWhatItSays: group_wait 0s is zero (it used to become
// 30 s), an absent group_wait is the default 30 s, and a policies block
// naming only critical keeps the default warning policy (it used to
// remove it: warnings then notified nobody).
func TestConfigMeansWhatItSays(t *testing.T) {
	load := func(file string) Config {
		t.Helper()
		s := service{Notify: DefaultConfig()}
		if err := config.Load(filepath.Join("testdata", file), &s); err != nil {
			t.Fatal(err)
		}
		return s.Notify
	}
	if c := load("zero-wait.good.yaml").WithDefaults(); c.GroupWait != 0 || c.GroupWaitCritical != 0 {
		t.Fatalf("group_wait: 0s became %s", c.GroupWait)
	}
	if c := load("minimal.good.yaml").WithDefaults(); c.GroupWait != notify.DefaultGroupWait || c.GroupWaitCritical != 0 {
		t.Fatalf("defaults: group_wait %s, group_wait_critical %s", c.GroupWait, c.GroupWaitCritical)
	}
	c := load("partial-policies.good.yaml").WithDefaults()
	if got := c.Policies["critical"].Steps; len(got) != 2 || got[1].After != 5*time.Minute {
		t.Fatalf("critical policy %+v", got)
	}
	if got, want := c.Policies["warning"], notify.DefaultPolicies()["warning"]; len(got.Steps) != len(want.Steps) || got.Steps[1].After != want.Steps[1].After {
		t.Fatalf("warning policy %+v, want the default %+v", got, want)
	}
	if _, ok := c.Policies["info"]; ok {
		t.Fatal("info got a policy nobody configured")
	}
}
