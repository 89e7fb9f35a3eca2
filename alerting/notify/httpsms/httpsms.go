// Package httpsms sends SMS through a generic HTTP gateway that takes the
// template code and named parameters as JSON (an operator-run gateway or a
// carrier aggregator behind an adapter).
package httpsms

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/internal/httpx"
)

// Config for the gateway.
type Config struct {
	URL      string `yaml:"url" mapstructure:"url"`
	Token    string `yaml:"token" mapstructure:"token"` // sent as "Authorization: Bearer <token>"
	SignName string `yaml:"sign_name" mapstructure:"sign_name"`
}

// Request is the JSON body posted to the gateway.
type Request struct {
	ID       string            `json:"id"` // idempotency key: a gateway may drop repeats
	Phone    string            `json:"phone"`
	SignName string            `json:"sign_name"`
	Template string            `json:"template"`
	Params   map[string]string `json:"params"`
}

// Answer is the gateway's JSON reply: code "OK" on success; a code
// starting with "LIMIT" means the number's budget is spent, "RETRY" that
// the gateway wants another try.
type Answer struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Notifier posts one request per message.
type Notifier struct {
	Cfg    Config
	Client *http.Client
}

// Notify posts m.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (bool, error) {
	body, _ := json.Marshal(Request{ID: m.Key, Phone: m.To.Phone, SignName: n.Cfg.SignName, Template: m.Template, Params: m.Params})
	h := http.Header{}
	if n.Cfg.Token != "" {
		h.Set("Authorization", "Bearer "+n.Cfg.Token)
	}
	b, retry, err := httpx.Post(ctx, n.Client, notify.ChannelSMS, n.Cfg.URL, h, body)
	if err != nil {
		return retry, err
	}
	var a Answer
	if err := json.Unmarshal(b, &a); err != nil {
		return true, &notify.ProviderError{Channel: notify.ChannelSMS, Kind: notify.Transient, Code: "BadAnswer", Message: err.Error()}
	}
	switch {
	case a.Code == "OK":
		return false, nil
	case strings.HasPrefix(a.Code, "LIMIT"):
		return false, &notify.ProviderError{Channel: notify.ChannelSMS, Kind: notify.Budget, Code: a.Code, Message: a.Message}
	case strings.HasPrefix(a.Code, "RETRY"):
		return true, &notify.ProviderError{Channel: notify.ChannelSMS, Kind: notify.Transient, Code: a.Code, Message: a.Message}
	}
	return false, &notify.ProviderError{Channel: notify.ChannelSMS, Kind: notify.Permanent, Code: a.Code, Message: a.Message}
}
