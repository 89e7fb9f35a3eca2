// Package logsms is an SMS and voice "provider" that sends nothing: it
// writes the SMS (or the call's text) it would send as one log line, with the template code, the text a phone
// would show and the masked number. The demo and the first integration
// tests use it, and an installer can run a site with it before the SMS
// signature and templates are approved.
package logsms

import (
	"context"
	"log/slog"
	"strings"

	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

// Config for the log notifier.
type Config struct {
	// SignName is put in 【】 before a template's text, as the provider does.
	SignName string `yaml:"sign_name" mapstructure:"sign_name"`
	// Templates maps a template code to its approved text with ${name}
	// variables (Aliyun syntax), so the log shows what the phone would
	// show. Codes are matched without regard to case because the config
	// loader lower-cases map keys. A code not listed logs the message's
	// rendered free text instead.
	Templates map[string]string `yaml:"templates" mapstructure:"templates"`
}

// Notifier logs each message and reports success.
type Notifier struct {
	logger    *slog.Logger
	sign      string
	templates map[string]string // by lower-cased code
}

// New builds the notifier; a nil logger means slog.Default().
func New(cfg Config, logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.Default()
	}
	t := make(map[string]string, len(cfg.Templates))
	for code, body := range cfg.Templates {
		t[strings.ToLower(code)] = body
	}
	return &Notifier{logger: logger, sign: cfg.SignName, templates: t}
}

// Notify logs m as `msg=SMS to=138****1234 template=... text="..."`
// (msg="voice call" for the voice channel: this notifier also stands in
// for a voice provider). The full number never reaches the log (PIPL).
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (bool, error) {
	msg := "SMS"
	if m.Channel == notify.ChannelVoice {
		msg = "voice call"
	}
	n.logger.LogAttrs(ctx, slog.LevelInfo, msg,
		slog.String("to", audit.MaskPhone(m.To.Phone)),
		slog.String("template", m.Template),
		slog.String("text", n.Text(m)))
	return false, nil
}

// Text is what the recipient's phone would show for m: the configured
// template body with its variables filled in and the signature in front,
// or m.Text when the template code has no body configured.
func (n *Notifier) Text(m notify.Message) string {
	body, ok := n.templates[strings.ToLower(m.Template)]
	if !ok {
		return m.Text
	}
	pairs := make([]string, 0, 2*len(m.Params))
	for k, v := range m.Params {
		pairs = append(pairs, "${"+k+"}", v)
	}
	text := strings.NewReplacer(pairs...).Replace(body)
	if n.sign != "" {
		text = "【" + n.sign + "】" + text
	}
	return text
}
