package notify

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access/audit"
)

// Channel names a way to reach a person.
type Channel string

// Channels the path knows. The SMS channel is served by whichever provider
// (Aliyun, Tencent, a generic gateway; several in failover order) is
// configured; the voice channel (a text-to-speech call to the same phone)
// by the voice provider.
const (
	ChannelSMS      Channel = "sms"
	ChannelVoice    Channel = "voice"
	ChannelWebhook  Channel = "webhook"
	ChannelDingTalk Channel = "dingtalk"
	ChannelWeCom    Channel = "wecom"
	ChannelEmail    Channel = "email"
)

// Names of the SMS and voice template parameters. Approved templates use
// these names (Aliyun) or their configured order (Tencent).
const (
	ParamFacility = "facility" // facility name
	ParamRoom     = "room"     // room name; empty for the facility as a whole
	ParamWhat     = "what"     // what is wrong, in words; "…等3项" for a group
	ParamDetail   = "detail"   // value and limit, or the time it began: "（1650ppm，限值1000ppm）", "（09:05起）"
	ParamValue    = "value"    // value with unit, empty for states
	ParamLimit    = "limit"    // limit with unit, empty where there is none
	ParamSince    = "since"    // when the (first) alert began, "09:05"
	ParamCode     = "code"     // every alert's acknowledgement code, "48291306、73620118"
	// ParamLink is the console's signed short link to the (leading)
	// alert, https://<console>/a/<token>, empty without notify.links.
	// Mainland providers approve no link in a variable: an approved
	// template writes its fixed, ICP-filed address as text and takes
	// ParamLinkToken after it ("…详情 https://cw.example.gov.cn/a/${link_token}").
	ParamLink      = "link"
	ParamLinkToken = "link_token"
)

// Params lists every parameter name, in the default order of positional
// templates.
var Params = []string{ParamFacility, ParamRoom, ParamWhat, ParamDetail, ParamCode, ParamValue, ParamLimit, ParamSince, ParamLink, ParamLinkToken}

// Contact is a person or office that can be notified. Each address is
// optional; the channels tried follow from which are set.
type Contact struct {
	ID             string `yaml:"id" mapstructure:"id" json:"id"`
	Name           string `yaml:"name" mapstructure:"name" json:"name"`
	Phone          string `yaml:"phone" mapstructure:"phone" json:"-"`
	Email          string `yaml:"email" mapstructure:"email" json:"-"`
	Webhook        string `yaml:"webhook" mapstructure:"webhook" json:"-"`
	WebhookSecret  string `yaml:"webhook_secret" mapstructure:"webhook_secret" json:"-"`
	DingTalk       string `yaml:"dingtalk" mapstructure:"dingtalk" json:"-"`
	DingTalkSecret string `yaml:"dingtalk_secret" mapstructure:"dingtalk_secret" json:"-"`
	WeCom          string `yaml:"wecom" mapstructure:"wecom" json:"-"`
	Lang           string `yaml:"lang" mapstructure:"lang" json:"lang,omitempty"`
}

// Has reports whether c can be reached on ch.
func (c Contact) Has(ch Channel) bool {
	switch ch {
	case ChannelSMS, ChannelVoice:
		return c.Phone != ""
	case ChannelWebhook:
		return c.Webhook != ""
	case ChannelDingTalk:
		return c.DingTalk != ""
	case ChannelWeCom:
		return c.WeCom != ""
	case ChannelEmail:
		return c.Email != ""
	}
	return false
}

// LogValue keeps phone numbers and addresses out of logs (PIPL): only the
// masked phone appears.
func (c Contact) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.String("phone", audit.MaskPhone(c.Phone)))
}

// Message is what one notifier sends to one recipient: an approved SMS
// template with named parameters, and a rendered text for channels that
// take free text.
type Message struct {
	Key      string            // stable id of this notification; sent as OutId/SessionContext where supported
	Channel  Channel           // the channel this message goes out on
	Kind     Kind              // what it tells: firing, escalation, reminder, resolved
	To       Contact           // the recipient; the notifier picks the address of its channel
	Lang     string            // language the text was rendered in
	Template string            // SMS or voice template code for the provider
	Params   map[string]string // template parameters by name (ParamFacility, ...)
	Subject  string            // subject for e-mail and title for robots
	Text     string            // rendered text for webhook, robots and e-mail
	Alerts   []Alert           // the alerts the message covers, for structured webhooks
}

// Notifier delivers messages on one channel. retry tells the caller that
// the failure is transient (timeout, 5xx, throttling that clears) and the
// same message may be tried again; a permanent failure (bad template, bad
// number) returns retry false. A provider's per-number budget answer
// returns an error for which errors.Is(err, ErrBudgetExhausted) holds.
type Notifier interface {
	Notify(ctx context.Context, m Message) (retry bool, err error)
}

// Confirmer is implemented by a Notifier whose provider can say whether
// it took a message. A delivery is in doubt when the process died, or the
// answer was lost, between handing the message to the provider and
// recording the answer; before such a delivery is made again, the path
// asks the provider, and records the message as sent instead of sending it
// twice when the provider has it.
type Confirmer interface {
	// Confirm reports whether the provider took the message with key m.Key
	// (sent as its OutId or SessionContext) to m.To at or after since, and
	// has not reported it undeliverable. An error means it cannot tell: the
	// message is sent again (a possible duplicate beats a lost alarm).
	Confirm(ctx context.Context, m Message, since time.Time) (bool, error)
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, m Message) (bool, error)

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, m Message) (bool, error) { return f(ctx, m) }

// TemplateFor returns the provider's own code for a configured template
// code: codes[code] when the provider maps it (keys match without regard
// to case, as the config loader lower-cases map keys), else code itself.
func TemplateFor(codes map[string]string, code string) string {
	for k, v := range codes {
		if strings.EqualFold(k, code) {
			return v
		}
	}
	return code
}
