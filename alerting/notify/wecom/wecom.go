// Package wecom posts to a WeCom (企业微信) group robot webhook.
package wecom

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/internal/httpx"
)

// Notifier posts m.Text as markdown to m.To.WeCom.
type Notifier struct {
	Client *http.Client
}

// errFreq is "api freq out of limit" (20 messages a minute per robot).
const errFreq = 45009

// Body is the robot message posted for m: markdown, the subject in bold.
func Body(m notify.Message) []byte {
	b, _ := json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": "**" + m.Subject + "**\n" + m.Text}})
	return b
}

// Notify posts m.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (bool, error) {
	b, retry, err := httpx.Post(ctx, n.Client, notify.ChannelWeCom, m.To.WeCom, nil, Body(m))
	if err != nil {
		return retry, err
	}
	var a struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return true, &notify.ProviderError{Channel: notify.ChannelWeCom, Kind: notify.Transient, Code: "BadAnswer", Message: err.Error()}
	}
	if a.ErrCode != 0 {
		kind := notify.Permanent
		if a.ErrCode == errFreq || a.ErrCode == -1 {
			kind = notify.Transient
		}
		return kind == notify.Transient, &notify.ProviderError{Channel: notify.ChannelWeCom, Kind: kind, Code: strconv.Itoa(a.ErrCode), Message: a.ErrMsg}
	}
	return false, nil
}
