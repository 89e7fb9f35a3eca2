// Package setup turns the notify section of the alerting service's
// configuration into what notify.New needs: the path's notify.Config and
// one Notifier per configured channel. It lives outside package notify
// because the channel packages import notify.
//
// The service embeds Config under its "notify" key:
//
//	type AlertingConfig struct {
//		Notify setup.Config `mapstructure:"notify"`
//		...
//	}
//
// with setup.DefaultConfig() as its default, and wires it as
//
//	notifiers, err := setup.BuildNotifiers(cfg.Notify, setup.BuildOptions{Logger: l, Clock: clk, Registerer: reg})
//	d, err := notify.New(notify.Options{Config: cfg.Notify.Config, Notifiers: notifiers, ...})
//
// CheckReach is what `alerting -check-config` adds: every recipient of
// critical alerts can be reached on two channels.
package setup

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/aliyun"
	"github.com/cradlewatch/cradlewatch/alerting/notify/email"
	"github.com/cradlewatch/cradlewatch/alerting/notify/httpsms"
	"github.com/cradlewatch/cradlewatch/alerting/notify/logsms"
	"github.com/cradlewatch/cradlewatch/alerting/notify/tencent"
	"github.com/cradlewatch/cradlewatch/internal/config"
)

// SMS and voice providers for Config.SMSProvider, SMSProviders and
// VoiceProvider.
const (
	ProviderAliyun  = "aliyun"  // Aliyun SMS (Dysmsapi) / voice (Dyvmsapi)
	ProviderTencent = "tencent" // Tencent Cloud SMS / voice (vms)
	ProviderHTTPSMS = "httpsms" // a generic HTTP SMS gateway
	ProviderLog     = "log"     // log the SMS or call, send nothing (demo, tests, before approval)
	ProviderNone    = "none"    // no SMS (robots, webhooks and e-mail only) / no voice
)

// Providers lists the accepted values of sms_provider.
var Providers = []string{ProviderAliyun, ProviderTencent, ProviderHTTPSMS, ProviderLog, ProviderNone}

// VoiceProviders lists the accepted values of voice_provider.
var VoiceProviders = []string{ProviderAliyun, ProviderTencent, ProviderLog, ProviderNone}

// Config is the whole notify section: the path's settings (squashed, so
// they sit at the section's top level) and the channels' settings. Only
// the chosen providers' blocks are read; the others may stay filled in.
type Config struct {
	notify.Config `yaml:",inline" mapstructure:",squash"`

	// SMSProvider is the one SMS provider; SMSProviders, when set, lists
	// several in failover order instead (a second provider takes over
	// when the first fails).
	SMSProvider  string   `yaml:"sms_provider" mapstructure:"sms_provider"`
	SMSProviders []string `yaml:"sms_providers" mapstructure:"sms_providers"`
	// VoiceProvider places the calls of critical alerts (语音通知); none
	// (the default) calls nobody.
	VoiceProvider string              `yaml:"voice_provider" mapstructure:"voice_provider"`
	Aliyun        aliyun.Config       `yaml:"aliyun" mapstructure:"aliyun"`
	AliyunVoice   aliyun.VoiceConfig  `yaml:"aliyun_voice" mapstructure:"aliyun_voice"`
	Tencent       tencent.Config      `yaml:"tencent" mapstructure:"tencent"`
	TencentVoice  tencent.VoiceConfig `yaml:"tencent_voice" mapstructure:"tencent_voice"`
	HTTPSMS       httpsms.Config      `yaml:"httpsms" mapstructure:"httpsms"`
	LogSMS        logsms.Config       `yaml:"log_sms" mapstructure:"log_sms"`
	Email         email.Config        `yaml:"email" mapstructure:"email"`
	Webhook       WebhookConfig       `yaml:"webhook" mapstructure:"webhook"`
}

// WebhookConfig holds settings shared by all webhook contacts.
type WebhookConfig struct {
	// DefaultSecret signs requests to contacts without a webhook_secret.
	DefaultSecret string `yaml:"default_secret" mapstructure:"default_secret"`
}

// DefaultConfig is the section's defaults for the config loader (see
// notify.DefaultConfig: a YAML that leaves group_wait out gets 30 s).
func DefaultConfig() Config { return Config{Config: notify.DefaultConfig()} }

// smsProviders is the failover order; empty for none.
func (c Config) smsProviders() []string {
	if len(c.SMSProviders) > 0 {
		return c.SMSProviders
	}
	if c.SMSProvider == "" || c.SMSProvider == ProviderNone {
		return nil
	}
	return []string{c.SMSProvider}
}

// voice reports whether a voice provider is configured.
func (c Config) voice() bool { return c.VoiceProvider != "" && c.VoiceProvider != ProviderNone }

// aliyunVoice is the voice block with the SMS block's credentials where
// it has none.
func (c Config) aliyunVoice() aliyun.VoiceConfig {
	v := c.AliyunVoice
	if v.AccessKeyID == "" && v.AccessKeySecret == "" {
		v.AccessKeyID, v.AccessKeySecret = c.Aliyun.AccessKeyID, c.Aliyun.AccessKeySecret
	}
	if v.Region == "" {
		v.Region = c.Aliyun.Region
	}
	return v
}

// tencentVoice is the voice block with the SMS block's credentials where
// it has none.
func (c Config) tencentVoice() tencent.VoiceConfig {
	v := c.TencentVoice
	if v.SecretID == "" && v.SecretKey == "" {
		v.SecretID, v.SecretKey = c.Tencent.SecretID, c.Tencent.SecretKey
	}
	if v.Region == "" {
		v.Region = c.Tencent.Region
	}
	return v
}

// Validate checks the path's settings (with defaults applied) and the
// chosen providers' required keys. Errors are *config.Error with keys
// relative to the notify section.
func (c Config) Validate() error {
	if err := c.Config.WithDefaults().Validate(); err != nil {
		return err
	}
	if len(c.SMSProviders) > 0 && c.SMSProvider != "" && c.SMSProvider != c.SMSProviders[0] {
		return config.Errorf("sms_providers", "set either sms_provider or sms_providers, not both")
	}
	if len(c.SMSProviders) == 0 && !slices.Contains(Providers, c.SMSProvider) {
		return config.Errorf("sms_provider", "%q is not one of %s", c.SMSProvider, strings.Join(Providers, ", "))
	}
	for i, p := range c.SMSProviders {
		if p == ProviderNone || !slices.Contains(Providers, p) {
			return config.Errorf("sms_providers", "item %d: %q is not one of %s", i, p, strings.Join(Providers[:4], ", "))
		}
		if slices.Index(c.SMSProviders, p) != i {
			return config.Errorf("sms_providers", "%q is listed twice", p)
		}
	}
	for _, p := range c.smsProviders() {
		if err := c.checkSMSProvider(p); err != nil {
			return err
		}
	}
	if err := c.checkVoice(); err != nil {
		return err
	}
	if c.Email.Addr != "" && c.Email.From == "" {
		return config.Errorf("email.from", "required when email.addr is set")
	}
	return nil
}

func (c Config) checkSMSProvider(p string) error {
	var missing []string
	need := func(key, val string) {
		if strings.TrimSpace(val) == "" {
			missing = append(missing, key)
		}
	}
	switch p {
	case ProviderAliyun:
		need("aliyun.access_key_id", c.Aliyun.AccessKeyID)
		need("aliyun.access_key_secret", c.Aliyun.AccessKeySecret)
		need("aliyun.sign_name", c.Aliyun.SignName)
	case ProviderTencent:
		need("tencent.secret_id", c.Tencent.SecretID)
		need("tencent.secret_key", c.Tencent.SecretKey)
		need("tencent.sdk_app_id", c.Tencent.SdkAppID)
		need("tencent.sign_name", c.Tencent.SignName)
		if err := checkParamOrder("tencent.param_order", c.Tencent.ParamOrder); err != nil {
			return err
		}
	case ProviderHTTPSMS:
		need("httpsms.url", c.HTTPSMS.URL)
	}
	if len(missing) > 0 {
		return config.Errorf(strings.Join(missing, ", "), "required for sms_provider %s", p)
	}
	return nil
}

func (c Config) checkVoice() error {
	switch c.VoiceProvider {
	case "", ProviderNone, ProviderLog:
		return nil
	case ProviderAliyun:
		v := c.aliyunVoice()
		if v.AccessKeyID == "" || v.AccessKeySecret == "" {
			return config.Errorf("aliyun_voice.access_key_id", "required for voice_provider aliyun (here or in aliyun)")
		}
		if v.PlayTimes < 0 || v.PlayTimes > 3 {
			return config.Errorf("aliyun_voice.play_times", "%d is not 1-3", v.PlayTimes)
		}
	case ProviderTencent:
		v := c.tencentVoice()
		if v.SecretID == "" || v.SecretKey == "" {
			return config.Errorf("tencent_voice.secret_id", "required for voice_provider tencent (here or in tencent)")
		}
		if v.VoiceSdkAppID == "" {
			return config.Errorf("tencent_voice.voice_sdk_app_id", "required for voice_provider tencent")
		}
		if v.PlayTimes < 0 || v.PlayTimes > 3 {
			return config.Errorf("tencent_voice.play_times", "%d is not 1-3", v.PlayTimes)
		}
		if err := checkParamOrder("tencent_voice.param_order", v.ParamOrder); err != nil {
			return err
		}
	default:
		return config.Errorf("voice_provider", "%q is not one of %s", c.VoiceProvider, strings.Join(VoiceProviders, ", "))
	}
	// A real provider calls with an approved template only.
	lang := c.DefaultLang
	if lang == "" {
		lang = notify.DefaultLang
	}
	codes := c.Templates[lang].Voice
	for _, k := range []notify.Kind{notify.KindFiring, notify.KindEscalation} {
		if codes[k] == "" {
			return config.Errorf(fmt.Sprintf("templates.%s.voice.%s", lang, k), "required for voice_provider %s (an approved text-to-speech template)", c.VoiceProvider)
		}
	}
	return nil
}

func checkParamOrder(key string, order []string) error {
	for i, p := range order {
		if !slices.Contains(notify.Params, p) {
			return config.Errorf(fmt.Sprintf("%s[%d]", key, i), "unknown parameter %q (want one of %s)", p, strings.Join(notify.Params, ", "))
		}
	}
	return nil
}
