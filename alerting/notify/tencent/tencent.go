// Package tencent sends SMS through Tencent Cloud SMS (SendSms,
// 2021-01-11, TC3-HMAC-SHA256) with the official SDK, and places voice
// calls (SendTtsVoice).
//
// Every SMS carries its notification key as SessionContext, and
// Notifier.Confirm looks the key up in the number's carrier receipts
// (PullSmsSendStatusByPhoneNumber) before a delivery in doubt is made
// again. Receipts come after a delay: a message Tencent took but whose
// receipt has not come yet is not found and is sent again, so a crash
// within that delay can still mean a duplicate SMS.
package tencent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sdkerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/internal/provider"
)

// Config for the Tencent SMS notifier.
type Config struct {
	SecretID   string        `yaml:"secret_id" mapstructure:"secret_id"`
	SecretKey  string        `yaml:"secret_key" mapstructure:"secret_key"`
	Region     string        `yaml:"region" mapstructure:"region"`           // default ap-guangzhou
	SdkAppID   string        `yaml:"sdk_app_id" mapstructure:"sdk_app_id"`   // SmsSdkAppId
	SignName   string        `yaml:"sign_name" mapstructure:"sign_name"`     // approved signature
	Endpoint   string        `yaml:"endpoint" mapstructure:"endpoint"`       // default sms.tencentcloudapi.com; host:port for tests
	Scheme     string        `yaml:"scheme" mapstructure:"scheme"`           // HTTPS (default) or HTTP
	Timeout    time.Duration `yaml:"timeout" mapstructure:"timeout"`         // per request; default 10s
	ParamOrder []string      `yaml:"param_order" mapstructure:"param_order"` // template parameters are positional: names in {1},{2}... order
	// TemplateIDs maps the template codes of the templates section to this
	// provider's template ids, where they differ (Tencent's ids are
	// numbers; another provider's codes may be the configured ones). Keys
	// match without regard to case.
	TemplateIDs map[string]string `yaml:"template_ids" mapstructure:"template_ids"`
}

// DefaultParamOrder is the order of parameters of the default templates:
// {1} facility, {2} room, {3} what, {4} detail, {5} code.
var DefaultParamOrder = []string{notify.ParamFacility, notify.ParamRoom, notify.ParamWhat, notify.ParamDetail, notify.ParamCode}

// Notifier sends one SMS per Notify call.
type Notifier struct {
	// Now is Confirm's clock, the end of the window it asks about; nil
	// means notify.RealClock.
	Now func() time.Time

	cfg    Config
	client *sms.Client
}

// New builds the SDK client with its retries off: the path retries.
func New(cfg Config) (*Notifier, error) {
	if cfg.SecretID == "" || cfg.SecretKey == "" || cfg.SdkAppID == "" || cfg.SignName == "" {
		return nil, errors.New("tencent: secret_id, secret_key, sdk_app_id and sign_name are required")
	}
	provider.Endpoint{Region: &cfg.Region, Host: &cfg.Endpoint, Scheme: &cfg.Scheme, Timeout: &cfg.Timeout}.Fill("ap-guangzhou", "sms.tencentcloudapi.com")
	if len(cfg.ParamOrder) == 0 {
		cfg.ParamOrder = DefaultParamOrder
	}
	c, err := sms.NewClient(common.NewCredential(cfg.SecretID, cfg.SecretKey), cfg.Region, clientProfile(cfg.Endpoint, cfg.Scheme, cfg.Timeout))
	if err != nil {
		return nil, fmt.Errorf("tencent: client: %w", err)
	}
	// Own transport: the SDK's default is shared package state.
	c.WithHttpTransport(http.DefaultTransport.(*http.Transport).Clone())
	return &Notifier{cfg: cfg, client: c}, nil
}

// clientProfile is the SDK's profile for an endpoint, with the timeout in
// whole seconds (rounded up), as the SDK takes it.
func clientProfile(endpoint, scheme string, timeout time.Duration) *profile.ClientProfile {
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = endpoint
	cpf.HttpProfile.Scheme = scheme
	cpf.HttpProfile.ReqTimeout = int((timeout + time.Second - 1) / time.Second)
	return cpf
}

// Notify sends m's template to m.To.Phone and reads that number's status.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (bool, error) {
	if m.Template == "" {
		return false, &notify.ProviderError{Channel: notify.ChannelSMS, Kind: notify.Permanent, Code: "NoTemplate", Message: "no SMS template id configured for " + m.Lang}
	}
	req := sms.NewSendSmsRequest()
	phone := e164(m.To.Phone)
	req.PhoneNumberSet = []*string{&phone}
	req.SmsSdkAppId = &n.cfg.SdkAppID
	req.SignName = &n.cfg.SignName
	tpl := notify.TemplateFor(n.cfg.TemplateIDs, m.Template)
	req.TemplateId = &tpl
	params := make([]*string, len(n.cfg.ParamOrder))
	for i, name := range n.cfg.ParamOrder {
		v := m.Params[name]
		params[i] = &v
	}
	req.TemplateParamSet = params
	sc := sessionContext(m.Key)
	req.SessionContext = &sc
	resp, err := n.client.SendSmsWithContext(ctx, req)
	if err != nil {
		return classifyErr(notify.ChannelSMS, err)
	}
	if resp.Response == nil || len(resp.Response.SendStatusSet) == 0 || resp.Response.SendStatusSet[0].Code == nil {
		return true, &notify.ProviderError{Channel: notify.ChannelSMS, Kind: notify.Transient, Code: "NoStatus", Message: "answer without a send status"}
	}
	st := resp.Response.SendStatusSet[0]
	if *st.Code == "Ok" {
		return false, nil
	}
	msg := ""
	if st.Message != nil {
		msg = *st.Message
	}
	pe := &notify.ProviderError{Channel: notify.ChannelSMS, Kind: CodeKind(*st.Code), Code: *st.Code, Status: 200, Message: msg}
	return pe.Kind == notify.Transient, pe
}

// classifyErr classifies an SDK error of either service.
func classifyErr(ch notify.Channel, err error) (bool, error) {
	var te *sdkerrors.TencentCloudSDKError
	if errors.As(err, &te) {
		kind := CodeKind(te.Code)
		if te.Code == "ClientError.HttpStatusCodeError" {
			kind = notify.Permanent
			if strings.Contains(te.Message, "code: 5") || strings.Contains(te.Message, "code: 429") {
				kind = notify.Transient
			}
		}
		pe := &notify.ProviderError{Channel: ch, Kind: kind, Code: te.Code, Message: te.Message}
		return kind == notify.Transient, pe
	}
	return notify.Retryable(err), fmt.Errorf("tencent %s: %w", ch, err)
}

// CodeKind classifies a Tencent SMS error or status code.
func CodeKind(code string) notify.ErrorKind {
	switch {
	case strings.HasPrefix(code, "LimitExceeded."):
		return notify.Budget
	case code == "RequestLimitExceeded", strings.HasPrefix(code, "InternalError"), code == "ClientError.NetworkError",
		code == "ClientError.ParseJsonError": // a gateway's error page instead of an API answer

		return notify.Transient
	}
	return notify.Permanent // FailedOperation.TemplateIncorrectOrUnapproved, InvalidParameterValue.IncorrectPhoneNumber, ...
}

// e164 writes mainland numbers as +86..., which SendSms expects.
func e164(p string) string {
	p = strings.TrimSpace(p)
	if strings.HasPrefix(p, "+") {
		return p
	}
	if strings.HasPrefix(p, "0086") {
		return "+" + p[2:]
	}
	if len(p) == 11 {
		return "+86" + p
	}
	return p
}
