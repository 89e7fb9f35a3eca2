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
// and wires it as
//
//	notifiers, err := setup.BuildNotifiers(cfg.Notify, setup.BuildOptions{Logger: l, Clock: clk})
//	d, err := notify.New(notify.Options{Config: cfg.Notify.Config, Notifiers: notifiers, ...})
package setup

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/aliyun"
	"github.com/cradlewatch/cradlewatch/alerting/notify/email"
	"github.com/cradlewatch/cradlewatch/alerting/notify/httpsms"
	"github.com/cradlewatch/cradlewatch/alerting/notify/logsms"
	"github.com/cradlewatch/cradlewatch/alerting/notify/tencent"
)

// SMS providers for Config.SMSProvider.
const (
	ProviderAliyun  = "aliyun"  // Aliyun SMS (Dysmsapi)
	ProviderTencent = "tencent" // Tencent Cloud SMS
	ProviderHTTPSMS = "httpsms" // a generic HTTP SMS gateway
	ProviderLog     = "log"     // log the SMS, send nothing (demo, tests, before approval)
	ProviderNone    = "none"    // no SMS: robots, webhooks and e-mail only
)

// Providers lists the accepted values of sms_provider.
var Providers = []string{ProviderAliyun, ProviderTencent, ProviderHTTPSMS, ProviderLog, ProviderNone}

// Config is the whole notify section: the path's settings (squashed, so
// they sit at the section's top level) and the channels' settings. Only
// the chosen SMS provider's block is read; the others may stay filled in.
type Config struct {
	notify.Config `yaml:",inline" mapstructure:",squash"`

	SMSProvider string         `yaml:"sms_provider" mapstructure:"sms_provider"`
	Aliyun      aliyun.Config  `yaml:"aliyun" mapstructure:"aliyun"`
	Tencent     tencent.Config `yaml:"tencent" mapstructure:"tencent"`
	HTTPSMS     httpsms.Config `yaml:"httpsms" mapstructure:"httpsms"`
	LogSMS      logsms.Config  `yaml:"log_sms" mapstructure:"log_sms"`
	Email       email.Config   `yaml:"email" mapstructure:"email"`
	Webhook     WebhookConfig  `yaml:"webhook" mapstructure:"webhook"`
}

// WebhookConfig holds settings shared by all webhook contacts.
type WebhookConfig struct {
	// DefaultSecret signs requests to contacts without a webhook_secret.
	DefaultSecret string `yaml:"default_secret" mapstructure:"default_secret"`
}

// Validate checks the path's settings (with defaults applied) and the
// chosen provider's required keys, naming the key that is wrong. Keys are
// relative to the notify section.
func (c Config) Validate() error {
	if err := c.Config.WithDefaults().Validate(); err != nil {
		return err
	}
	var missing []string
	need := func(key, val string) {
		if strings.TrimSpace(val) == "" {
			missing = append(missing, key)
		}
	}
	switch c.SMSProvider {
	case ProviderAliyun:
		need("aliyun.access_key_id", c.Aliyun.AccessKeyID)
		need("aliyun.access_key_secret", c.Aliyun.AccessKeySecret)
		need("aliyun.sign_name", c.Aliyun.SignName)
	case ProviderTencent:
		need("tencent.secret_id", c.Tencent.SecretID)
		need("tencent.secret_key", c.Tencent.SecretKey)
		need("tencent.sdk_app_id", c.Tencent.SdkAppID)
		need("tencent.sign_name", c.Tencent.SignName)
		for i, p := range c.Tencent.ParamOrder {
			if !knownParam(p) {
				return fmt.Errorf("tencent.param_order[%d]: unknown parameter %q (want facility, room, what, value, limit or code)", i, p)
			}
		}
	case ProviderHTTPSMS:
		need("httpsms.url", c.HTTPSMS.URL)
	case ProviderLog, ProviderNone:
	default:
		return fmt.Errorf("sms_provider: %q is not one of %s", c.SMSProvider, strings.Join(Providers, ", "))
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: required for sms_provider %s", strings.Join(missing, ", "), c.SMSProvider)
	}
	if c.Email.Addr != "" && c.Email.From == "" {
		return errors.New("email.from: required when email.addr is set")
	}
	return nil
}

func knownParam(p string) bool {
	switch p {
	case notify.ParamFacility, notify.ParamRoom, notify.ParamWhat, notify.ParamValue, notify.ParamLimit, notify.ParamCode:
		return true
	}
	return false
}
