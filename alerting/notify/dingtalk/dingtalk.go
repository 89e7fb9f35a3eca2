// Package dingtalk posts to a DingTalk group's custom robot, with the
// robot's "加签" signature when a secret is set.
package dingtalk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/internal/httpx"
)

// Notifier posts m.Text as a markdown message to m.To.DingTalk.
type Notifier struct {
	Client *http.Client
	Now    func() time.Time
}

// Sign computes the robot signature: base64(HMAC-SHA256(secret,
// timestamp_ms + "\n" + secret)); the caller URL-encodes it.
func Sign(secret string, tsMillis int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(tsMillis, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignedURL appends timestamp and sign to the robot's webhook URL.
func SignedURL(webhook, secret string, now time.Time) (string, error) {
	u, err := url.Parse(webhook)
	if err != nil {
		return "", err
	}
	if secret == "" {
		return webhook, nil
	}
	ts := now.UnixMilli()
	q := u.Query()
	q.Set("timestamp", strconv.FormatInt(ts, 10))
	q.Set("sign", Sign(secret, ts))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

type answer struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// errTooFast is the robot's per-minute throttle (20 messages a minute).
const errTooFast = 130101

// Body is the robot message posted for m: markdown, the subject as its
// heading, each line of the text its own paragraph (markdown joins lines).
func Body(m notify.Message) []byte {
	text := "#### " + m.Subject + "\n\n" + strings.ReplaceAll(m.Text, "\n", "\n\n")
	b, _ := json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": m.Subject, "text": text}})
	return b
}

// Notify posts m.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (bool, error) {
	u, err := SignedURL(m.To.DingTalk, m.To.DingTalkSecret, n.Now())
	if err != nil {
		return false, &notify.ProviderError{Channel: notify.ChannelDingTalk, Kind: notify.Permanent, Code: "BadURL", Message: "robot URL does not parse"}
	}
	b, retry, err := httpx.Post(ctx, n.Client, notify.ChannelDingTalk, u, nil, Body(m))
	if err != nil {
		return retry, err
	}
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		return true, &notify.ProviderError{Channel: notify.ChannelDingTalk, Kind: notify.Transient, Code: "BadAnswer", Message: err.Error()}
	}
	if a.ErrCode != 0 {
		kind := notify.Permanent
		if a.ErrCode == errTooFast || a.ErrCode == -1 { // -1: system busy
			kind = notify.Transient
		}
		return kind == notify.Transient, &notify.ProviderError{Channel: notify.ChannelDingTalk, Kind: kind, Code: strconv.Itoa(a.ErrCode), Message: a.ErrMsg}
	}
	return false, nil
}
