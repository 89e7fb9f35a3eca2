// Package webhook posts alerts as JSON to a generic endpoint (a regulator's
// system), signed with HMAC-SHA256 over timestamp and body.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/internal/httpx"
)

// Headers of a signed request. The receiver recomputes
// hex(HMAC-SHA256(secret, timestamp + "." + body)) and rejects stale
// timestamps to stop replays.
const (
	HeaderTimestamp = "X-CradleWatch-Timestamp" // Unix seconds
	HeaderSignature = "X-CradleWatch-Signature" // "sha256=" + hex
)

// Payload is the JSON body.
type Payload struct {
	Version   int            `json:"version"`
	Key       string         `json:"key"`
	Recipient string         `json:"recipient"`
	Subject   string         `json:"subject"`
	Text      string         `json:"text"`
	Lang      string         `json:"lang"`
	Alerts    []notify.Alert `json:"alerts"`
}

// Notifier posts to m.To.Webhook, signed with m.To.WebhookSecret (or the
// default secret).
type Notifier struct {
	Client        *http.Client
	DefaultSecret string
	Now           func() time.Time // timestamp source; the caller's clock
}

// Sign returns the signature header value for body at ts.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Body is the JSON posted for m.
func Body(m notify.Message) ([]byte, error) {
	return json.Marshal(Payload{Version: 1, Key: m.Key, Recipient: m.To.ID, Subject: m.Subject, Text: m.Text, Lang: m.Lang, Alerts: m.Alerts})
}

// Notify posts m.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (bool, error) {
	body, err := Body(m)
	if err != nil {
		return false, err
	}
	secret := m.To.WebhookSecret
	if secret == "" {
		secret = n.DefaultSecret
	}
	h := http.Header{}
	if secret != "" {
		ts := n.Now().Unix()
		h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		h.Set(HeaderSignature, Sign(secret, ts, body))
	}
	h.Set("Idempotency-Key", m.Key)
	_, retry, err := httpx.Post(ctx, n.Client, notify.ChannelWebhook, m.To.Webhook, h, body)
	return retry, err
}
