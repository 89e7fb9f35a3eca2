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
	var s service
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
	if c.Aliyun.Timeout != 10*time.Second || c.Tencent.SdkAppID != "1400000000" || len(c.Tencent.ParamOrder) != 6 ||
		c.HTTPSMS.URL == "" || !c.Email.RequireStartTLS || c.Webhook.DefaultSecret != "CHANGE_ME" {
		t.Fatalf("providers: %+v", c)
	}
	if len(c.LogSMS.Templates) != 4 || c.LogSMS.SignName != "托育安全" {
		t.Fatalf("log_sms: %+v", c.LogSMS)
	}
}

func TestConfigFiles(t *testing.T) {
	tests := []struct {
		file string
		want string // substring of the error; empty for a good file
	}{
		{"minimal.good.yaml", ""},
		{"unknown-key.bad.yaml", "per_dya"},
		{"provider.bad.yaml", `sms_provider: "yunpian" is not one of`},
		{"aliyun-missing.bad.yaml", "aliyun.access_key_secret, aliyun.sign_name: required for sms_provider aliyun"},
		{"duration.bad.yaml", "group_wait"},
		{"no-state-dir.bad.yaml", "state_dir: must be set"},
		{"param-order.bad.yaml", `tencent.param_order[1]: unknown parameter "rooom"`},
		{"policy.bad.yaml", "policies.urgent"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			var s service
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
