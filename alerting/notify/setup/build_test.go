package setup

import (
	"github.com/cradlewatch/cradlewatch/access/audit"

	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/aliyun"
	"github.com/cradlewatch/cradlewatch/alerting/notify/email"
	"github.com/cradlewatch/cradlewatch/alerting/notify/httpsms"
	"github.com/cradlewatch/cradlewatch/alerting/notify/logsms"
	"github.com/cradlewatch/cradlewatch/alerting/notify/tencent"
	"github.com/cradlewatch/cradlewatch/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func baseConfig(dir string) Config {
	return Config{Config: notify.Config{
		StateDir: dir,
		Directory: notify.Directory{
			Operators: map[string][]notify.Contact{"fac-1": {{ID: "op", Phone: "13812341234", DingTalk: "http://127.0.0.1:1/dt"}}},
			Regions:   map[string][]notify.Contact{"110105": {{ID: "county", Webhook: "http://127.0.0.1:1/hook", Email: "duty@example.cn"}}},
		},
	}}
}

func TestBuildNotifiers(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantSMS string // type of the SMS notifier; "" for none
		want    []notify.Channel
		wantErr string
	}{
		{"log", func(c *Config) { c.SMSProvider = ProviderLog }, fmt.Sprintf("%T", &logsms.Notifier{}),
			[]notify.Channel{"dingtalk", "sms", "webhook"}, ""},
		{"aliyun", func(c *Config) {
			c.SMSProvider = ProviderAliyun
			c.Aliyun = aliyun.Config{AccessKeyID: "id", AccessKeySecret: "secret", SignName: "托育安全"}
		}, fmt.Sprintf("%T", &aliyun.Notifier{}), []notify.Channel{"dingtalk", "sms", "webhook"}, ""},
		{"tencent", func(c *Config) {
			c.SMSProvider = ProviderTencent
			c.Tencent = tencent.Config{SecretID: "id", SecretKey: "key", SdkAppID: "1400000000", SignName: "托育安全"}
		}, fmt.Sprintf("%T", &tencent.Notifier{}), []notify.Channel{"dingtalk", "sms", "webhook"}, ""},
		{"httpsms with e-mail", func(c *Config) {
			c.SMSProvider = ProviderHTTPSMS
			c.HTTPSMS = httpsms.Config{URL: "http://127.0.0.1:1/send"}
			c.Email = email.Config{Addr: "127.0.0.1:25", From: "cw@example.cn"}
		}, fmt.Sprintf("%T", &httpsms.Notifier{}), []notify.Channel{"dingtalk", "email", "sms", "webhook"}, ""},
		{"none", func(c *Config) { c.SMSProvider = ProviderNone }, "", []notify.Channel{"dingtalk", "webhook"}, ""},
		{"wecom only", func(c *Config) {
			c.SMSProvider = ProviderNone
			c.Directory = notify.Directory{Operators: map[string][]notify.Contact{"fac-1": {{ID: "op", WeCom: "http://127.0.0.1:1/wecom"}}}}
		}, "", []notify.Channel{"wecom"}, ""},
		{"unknown provider", func(c *Config) { c.SMSProvider = "yunpian" }, "", nil, "sms_provider"},
		{"tencent without credentials", func(c *Config) { c.SMSProvider = ProviderTencent }, "", nil, "tencent.secret_id"},
		{"httpsms without url", func(c *Config) { c.SMSProvider = ProviderHTTPSMS }, "", nil, "httpsms.url"},
		{"email without from", func(c *Config) { c.SMSProvider = ProviderLog; c.Email.Addr = "127.0.0.1:25" }, "", nil, "email.from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(t.TempDir())
			tc.mod(&cfg)
			var logs bytes.Buffer
			ns, err := BuildNotifiers(cfg, BuildOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(maps.Keys(ns)); !slices.Equal(got, tc.want) {
				t.Fatalf("channels %v, want %v", got, tc.want)
			}
			if got := typeName(ns[notify.ChannelSMS]); got != tc.wantSMS {
				t.Fatalf("sms notifier %s, want %s", got, tc.wantSMS)
			}
			if _, ok := ns[notify.ChannelEmail]; !ok && reachable(cfg.Directory)[notify.ChannelEmail] && !strings.Contains(logs.String(), "email.addr is not set") {
				t.Fatalf("contacts with e-mail but no relay: no warning in %q", logs.String())
			}
		})
	}
}

func typeName(n notify.Notifier) string {
	if n == nil {
		return ""
	}
	return fmt.Sprintf("%T", n)
}

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.now = c.now.Add(d)
	return nil
}

// TestLogProviderThroughDispatcher runs a firing alert from the rule
// engine's hand to the log line the demo shows.
func TestLogProviderThroughDispatcher(t *testing.T) {
	cfg := baseConfig(t.TempDir())
	cfg.SMSProvider = ProviderLog
	cfg.Templates = map[string]notify.LangSet{"zh": {SMS: map[notify.Kind]string{notify.KindFiring: "SMS_CW_ALERT"}}}
	cfg.LogSMS = logsms.Config{SignName: "托育安全", Templates: map[string]string{
		"sms_cw_alert": "${facility} ${room} ${what} ${value}(限值${limit})，请处理。确认码 ${code}"}}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	t0 := time.Date(2025, 3, 3, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	clock := &fakeClock{now: t0}
	ns, err := BuildNotifiers(cfg, BuildOptions{Logger: logger, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	d, err := notify.New(notify.Options{Config: cfg.Config, Notifiers: ns, Clock: clock, Logger: logger,
		Registerer: prometheus.NewRegistry(), Rand: rand.New(rand.NewPCG(1, 2)), Phones: phones(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a := notify.Alert{Fingerprint: "fp", Facility: "fac-1", FacilityName: "朝阳区示例托育园", Room: "乳儿班", Region: "110105001",
		Severity: notify.SeverityCritical, What: "二氧化碳浓度过高", Value: "1620ppm", Limit: "1000ppm", StartsAt: t0, At: t0}
	ctx := context.Background()
	if err := d.Handle(ctx, a); err != nil {
		t.Fatal(err)
	}
	clock.now = clock.now.Add(cfg.WithDefaults().GroupWait)
	if err := d.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`msg=SMS to=138\*\*\*\*1234 template=SMS_CW_ALERT text="【托育安全】朝阳区示例托育园 乳儿班 二氧化碳浓度过高 1620ppm\(限值1000ppm\)，请处理。确认码 \d{8}"`)
	if !want.MatchString(logs.String()) {
		t.Fatalf("no SMS line like %s in\n%s", want, logs.String())
	}
	if strings.Contains(logs.String(), "13812341234") {
		t.Fatal("full phone number in the log")
	}
}

func TestBuildFailoverAndVoice(t *testing.T) {
	s := service{Notify: DefaultConfig()}
	if err := config.Load(filepath.Join("testdata", "failover.good.yaml"), &s); err != nil {
		t.Fatal(err)
	}
	s.Notify.StateDir = t.TempDir()
	ns, err := BuildNotifiers(s.Notify, BuildOptions{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if got := typeName(ns[notify.ChannelSMS]); got != fmt.Sprintf("%T", &notify.Failover{}) {
		t.Fatalf("sms notifier %s, want a failover of two providers", got)
	}
	if got := typeName(ns[notify.ChannelVoice]); got != fmt.Sprintf("%T", &tencent.Voice{}) {
		t.Fatalf("voice notifier %s", got)
	}
}

// TestCheckReach: every recipient of critical alerts needs two channels; a
// phone counts as SMS and, with a voice provider, voice. The error names
// who lacks them, never with a phone number.
func TestCheckReach(t *testing.T) {
	dir := notify.Directory{
		Operators: map[string][]notify.Contact{
			"fac-1": {{ID: "fac-1/op0", Name: "张园长", Phone: "13812341234"}},
			"fac-2": {{ID: "fac-2/op0", Name: "李老师", Phone: "13812345678", WeCom: "http://127.0.0.1:1/w"}},
		},
		Regions: map[string][]notify.Contact{
			"110105001": {{ID: "street", Name: "街道办", Phone: "13900001111"}},
			"110105":    {{ID: "county", Name: "区卫健委", Email: "duty@example.cn", Webhook: "http://127.0.0.1:1/h"}},
			"110100":    {{ID: "city", Name: "市卫健委", Email: "city@example.cn"}}, // the default critical policy does not reach the city
		},
	}
	cfg := baseConfig(t.TempDir())
	cfg.SMSProvider = ProviderLog
	err := cfg.CheckReach(dir)
	if err == nil {
		t.Fatal("recipients with a phone only passed")
	}
	for _, want := range []string{"fac-1/op0 张园长 (sms only)", "street 街道办 (sms only)", "county 区卫健委 (webhook only)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	for _, not := range []string{"fac-2", "city", "13812341234", "13900001111"} {
		if strings.Contains(err.Error(), not) {
			t.Errorf("error %q names %q", err, not)
		}
	}
	cfg.VoiceProvider = ProviderLog
	cfg.Email = email.Config{Addr: "127.0.0.1:25", From: "cw@example.cn"}
	if err := cfg.CheckReach(dir); err != nil {
		t.Fatalf("with voice and e-mail: %v", err)
	}
	cfg.SMSProvider = ProviderNone
	if err := cfg.CheckReach(dir); err == nil || !strings.Contains(err.Error(), "fac-1/op0 张园长 (voice only)") {
		t.Fatalf("without SMS: %v", err)
	}
}

func phones(t *testing.T) *audit.PhoneKeyer {
	k, err := audit.NewPhoneKeyer([]byte("setup-test-phone-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
