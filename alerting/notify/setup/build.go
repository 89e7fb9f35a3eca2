package setup

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/aliyun"
	"github.com/cradlewatch/cradlewatch/alerting/notify/dingtalk"
	"github.com/cradlewatch/cradlewatch/alerting/notify/email"
	"github.com/cradlewatch/cradlewatch/alerting/notify/httpsms"
	"github.com/cradlewatch/cradlewatch/alerting/notify/logsms"
	"github.com/cradlewatch/cradlewatch/alerting/notify/tencent"
	"github.com/cradlewatch/cradlewatch/alerting/notify/webhook"
	"github.com/cradlewatch/cradlewatch/alerting/notify/wecom"
)

// BuildOptions carry the notifiers' dependencies.
type BuildOptions struct {
	Logger *slog.Logger // default slog.Default(); the log SMS provider writes here
	// HTTPClient serves httpsms, webhook, DingTalk and WeCom. The default
	// has no overall timeout: each attempt is bounded by the path's
	// retry.attempt_timeout through its context. The Aliyun and Tencent
	// SDKs bring their own clients.
	HTTPClient *http.Client
	Clock      notify.Clock          // signature timestamps and mail dates; default notify.RealClock
	Registerer prometheus.Registerer // the SMS failover's metric; nil leaves it unregistered
}

// BuildNotifiers builds the SMS notifier (one provider, or a failover of
// sms_providers in their order; none for "none"), the voice notifier of
// voice_provider, and the free-text channels: webhook, DingTalk and WeCom
// when some contact in the directory has that address, e-mail when
// email.addr is set. A channel without a notifier is skipped by the path.
func BuildNotifiers(cfg Config, o BuildOptions) (map[notify.Channel]notify.Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("notify config: %w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Clock == nil {
		o.Clock = notify.RealClock{}
	}
	out := map[notify.Channel]notify.Notifier{}
	var sms []notify.Provider
	for _, p := range cfg.smsProviders() {
		n, err := buildSMS(cfg, p, o)
		if err != nil {
			return nil, err
		}
		sms = append(sms, notify.Provider{Name: p, Notifier: n})
	}
	switch len(sms) {
	case 0:
	case 1:
		out[notify.ChannelSMS] = sms[0].Notifier
	default:
		f, err := notify.NewFailover(notify.ChannelSMS, sms, o.Clock, o.Registerer)
		if err != nil {
			return nil, fmt.Errorf("notify config: sms_providers: %w", err)
		}
		out[notify.ChannelSMS] = f
	}
	switch cfg.VoiceProvider {
	case ProviderAliyun:
		v, err := aliyun.NewVoice(cfg.aliyunVoice())
		if err != nil {
			return nil, fmt.Errorf("notify config: aliyun_voice: %w", err)
		}
		out[notify.ChannelVoice] = v
	case ProviderTencent:
		v, err := tencent.NewVoice(cfg.tencentVoice())
		if err != nil {
			return nil, fmt.Errorf("notify config: tencent_voice: %w", err)
		}
		out[notify.ChannelVoice] = v
	case ProviderLog:
		out[notify.ChannelVoice] = logsms.New(cfg.LogSMS, o.Logger)
	}
	has := reachable(cfg.Directory)
	if has[notify.ChannelWebhook] {
		out[notify.ChannelWebhook] = &webhook.Notifier{Client: o.HTTPClient, DefaultSecret: cfg.Webhook.DefaultSecret, Now: o.Clock.Now}
	}
	if has[notify.ChannelDingTalk] {
		out[notify.ChannelDingTalk] = &dingtalk.Notifier{Client: o.HTTPClient, Now: o.Clock.Now}
	}
	if has[notify.ChannelWeCom] {
		out[notify.ChannelWeCom] = &wecom.Notifier{Client: o.HTTPClient}
	}
	if cfg.Email.Addr != "" {
		out[notify.ChannelEmail] = &email.Notifier{Cfg: cfg.Email, Now: o.Clock.Now}
	} else if has[notify.ChannelEmail] {
		// Not an error: addresses are often collected before a relay exists.
		o.Logger.Warn("contacts have e-mail addresses but email.addr is not set; e-mail is off")
	}
	return out, nil
}

// buildSMS builds one SMS provider.
func buildSMS(cfg Config, p string, o BuildOptions) (notify.Notifier, error) {
	switch p {
	case ProviderAliyun:
		n, err := aliyun.New(cfg.Aliyun)
		if err != nil {
			return nil, fmt.Errorf("notify config: aliyun: %w", err)
		}
		n.Now = o.Clock.Now
		return n, nil
	case ProviderTencent:
		n, err := tencent.New(cfg.Tencent)
		if err != nil {
			return nil, fmt.Errorf("notify config: tencent: %w", err)
		}
		n.Now = o.Clock.Now
		return n, nil
	case ProviderHTTPSMS:
		return &httpsms.Notifier{Cfg: cfg.HTTPSMS, Client: o.HTTPClient}, nil
	case ProviderLog:
		return logsms.New(cfg.LogSMS, o.Logger), nil
	}
	return nil, fmt.Errorf("notify config: sms provider %q", p)
}

// reachable reports which channels some contact of the directory has.
func reachable(d notify.Directory) map[notify.Channel]bool {
	out := map[notify.Channel]bool{}
	chans := []notify.Channel{notify.ChannelSMS, notify.ChannelWebhook, notify.ChannelDingTalk, notify.ChannelWeCom, notify.ChannelEmail}
	for _, group := range []map[string][]notify.Contact{d.Operators, d.Regions} {
		for _, cs := range group {
			for _, c := range cs {
				for _, ch := range chans {
					if c.Has(ch) {
						out[ch] = true
					}
				}
			}
		}
	}
	return out
}
