package console

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/callback"
	"github.com/cradlewatch/cradlewatch/access/limit"
	"github.com/cradlewatch/cradlewatch/access/setup"
	"github.com/cradlewatch/cradlewatch/access/web"
	"github.com/cradlewatch/cradlewatch/alerting/notify/reply"
	"github.com/cradlewatch/cradlewatch/model"
)

// SMS replies: an operator answers an alert's SMS with its code ("确认
// 48291306") and the provider pushes the reply to the front door, to a
// callback URL carrying a secret of its own (access/callback: the secret,
// an optional allowlist of the provider's networks, failed attempts
// limited per source). Each code in a reply is sent to every alerting
// instance (the code does not say which issued it) with the replying
// number's pseudonym; the instance that issued it acknowledges only if it
// sent the code to that number. A code that acknowledges nothing counts
// against the number and the source (callback.Guard.TryCode): five wrong
// codes lock the number for a day. docs/security.md gives the odds.

// Providers with a reply callback.
const (
	providerAliyun  = "aliyun"
	providerTencent = "tencent"
)

// smsProvider is one provider's reply format.
type smsProvider struct {
	name   string
	parse  func([]byte) ([]reply.Message, error)
	answer string // what the provider wants back
}

var smsProviders = []smsProvider{
	{providerAliyun, reply.ParseAliyun, reply.AliyunAnswer},
	{providerTencent, reply.ParseTencent, reply.TencentAnswer},
}

// callbackRoutes registers the reply callback of every provider whose
// secret is configured, with the secret in the path and, for a proxy or
// provider that can send one, in the X-CW-Callback-Secret header.
func (c *Console) callbackRoutes(mux *http.ServeMux) error {
	for _, p := range smsProviders {
		cfg := c.cfg.Callbacks.of(p.name)
		if cfg.SecretFile == "" {
			continue
		}
		g, err := c.kit.Guard(p.name, "callbacks."+p.name, cfg)
		if err != nil {
			return err
		}
		h := c.kit.Pages.Public(g.Wrap(c.smsReplies(p, g)))
		mux.Handle("POST /api/v1/sms/"+p.name+"/{secret}", h)
		mux.Handle("POST /api/v1/sms/"+p.name, h)
	}
	return nil
}

// CallbacksConfig holds each provider's callback guard.
type CallbacksConfig struct {
	Aliyun  setup.CallbackConfig `mapstructure:"aliyun"`
	Tencent setup.CallbackConfig `mapstructure:"tencent"`
}

func (cc CallbacksConfig) of(provider string) setup.CallbackConfig {
	if provider == providerTencent {
		return cc.Tencent
	}
	return cc.Aliyun
}

// smsReplies handles one provider's push, past its guard.
func (c *Console) smsReplies(p smsProvider, g *callback.Guard) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			web.Error(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		msgs, err := p.parse(b)
		if err != nil {
			c.m.callbacks.WithLabelValues(p.name, "bad_body").Inc()
			web.Error(w, http.StatusBadRequest, "bad body")
			return
		}
		retry := false
		for _, m := range msgs {
			retry = c.smsReply(r.Context(), p.name, g, m) || retry
		}
		if retry {
			// An instance did not answer: nothing it owns was changed, and
			// the provider pushes the reply again later.
			w.Header().Set("Retry-After", "60")
			web.Error(w, http.StatusServiceUnavailable, ErrUnavailable.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, p.answer)
	})
}

// smsReply tries each code of one reply; it reports whether the reply
// must be pushed again (an instance did not answer and nothing
// acknowledged).
func (c *Console) smsReply(ctx context.Context, provider string, g *callback.Guard, m reply.Message) bool {
	count := func(result string) { c.m.callbacks.WithLabelValues(provider, result).Inc() }
	codes := reply.Codes(m.Text)
	if len(codes) == 0 {
		count("no_code")
		c.log.Info("sms reply without an acknowledgement code", "provider", provider, "phone", audit.MaskPhone(m.Phone))
		return false
	}
	pk := c.kit.Phones.Key(m.Phone)
	who := model.Actor{Kind: "sms", ID: pk, Name: audit.MaskPhone(m.Phone)}
	retry := false
	for _, code := range codes {
		var acked []model.AlertView
		unavailable := false
		err := g.TryCode(ctx, m.Phone, func() bool {
			var missing []int
			var err error
			acked, missing, err = c.backend.AckCode(ctx, pk, code, who)
			if len(acked) > 0 {
				return true
			}
			// An instance that did not answer may hold the code: that is
			// no wrong guess, and the provider is asked to push again.
			unavailable = err != nil || len(missing) > 0
			return unavailable
		})
		var le *limit.LockedError
		switch {
		case errors.As(err, &le):
			count("locked")
			return retry // the guard logged the lockout once; the rest of the reply waits with it
		case errors.Is(err, callback.ErrWrongCode):
			count("wrong_code")
			continue
		case err != nil:
			c.log.Error("sms reply not checked", "provider", provider, "err", err)
			count("unavailable")
			retry = true
			continue
		case unavailable:
			count("unavailable")
			retry = true
			continue
		}
		count("acknowledged")
		for _, a := range acked {
			f := c.reg.Snapshot().Facility(a.Facility)
			region := model.Region("")
			if f != nil {
				region = f.Region
			}
			c.audit(access.Principal{Kind: "sms", ID: pk, Name: who.Name}, audit.ActionAcknowledge, a.Facility, region, a.Fingerprint,
				map[string]any{"via": "sms_" + provider, "outcome": "ok", "state": a.State})
		}
	}
	return retry
}
