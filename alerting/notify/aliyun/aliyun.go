// Package aliyun sends SMS through Aliyun SMS (Dysmsapi SendSms,
// 2017-05-25) with the official SDK.
package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/dysmsapi"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/internal/provider"
)

// Config for the Aliyun SMS notifier.
type Config struct {
	AccessKeyID     string        `yaml:"access_key_id" mapstructure:"access_key_id"`
	AccessKeySecret string        `yaml:"access_key_secret" mapstructure:"access_key_secret"`
	Region          string        `yaml:"region" mapstructure:"region"`       // default cn-hangzhou
	SignName        string        `yaml:"sign_name" mapstructure:"sign_name"` // approved signature
	Endpoint        string        `yaml:"endpoint" mapstructure:"endpoint"`   // default dysmsapi.aliyuncs.com; host:port for tests
	Scheme          string        `yaml:"scheme" mapstructure:"scheme"`       // HTTPS (default) or HTTP
	Timeout         time.Duration `yaml:"timeout" mapstructure:"timeout"`     // per request; default 10s
	// TemplateCodes maps the template codes of the templates section to
	// this provider's, where they differ (when another provider's codes are
	// the configured ones). Keys match without regard to case.
	TemplateCodes map[string]string `yaml:"template_codes" mapstructure:"template_codes"`
}

// Notifier sends one SMS per Notify call.
type Notifier struct {
	cfg    Config
	client *dysmsapi.Client
	// Now is Confirm's clock, the last day it asks about; nil is
	// notify.RealClock.
	Now func() time.Time
}

// New builds the SDK client. The SDK's own retries stay off: SendSms is
// not idempotent, and the notification path decides about retries.
func New(cfg Config) (*Notifier, error) {
	if cfg.AccessKeyID == "" || cfg.AccessKeySecret == "" || cfg.SignName == "" {
		return nil, errors.New("aliyun: access_key_id, access_key_secret and sign_name are required")
	}
	provider.Endpoint{Region: &cfg.Region, Host: &cfg.Endpoint, Scheme: &cfg.Scheme, Timeout: &cfg.Timeout}.Fill("cn-hangzhou", "dysmsapi.aliyuncs.com")
	c, err := dysmsapi.NewClientWithAccessKey(cfg.Region, cfg.AccessKeyID, cfg.AccessKeySecret)
	if err != nil {
		return nil, fmt.Errorf("aliyun: client: %w", err)
	}
	c.GetConfig().AutoRetry = false
	c.SetConnectTimeout(cfg.Timeout)
	c.SetReadTimeout(cfg.Timeout)
	return &Notifier{cfg: cfg, client: c}, nil
}

// Notify sends m's template to m.To.Phone. The SDK takes no context; the
// configured timeout bounds each call instead.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (bool, error) {
	if m.Template == "" {
		return false, &notify.ProviderError{Channel: notify.ChannelSMS, Kind: notify.Permanent, Code: "NoTemplate", Message: "no SMS template code configured for " + m.Lang}
	}
	params, err := json.Marshal(m.Params)
	if err != nil {
		return false, fmt.Errorf("aliyun: params: %w", err)
	}
	req := dysmsapi.CreateSendSmsRequest()
	req.Scheme = n.cfg.Scheme
	req.Domain = n.cfg.Endpoint
	req.PhoneNumbers = m.To.Phone
	req.SignName = n.cfg.SignName
	req.TemplateCode = notify.TemplateFor(n.cfg.TemplateCodes, m.Template)
	req.TemplateParam = string(params)
	req.OutId = outID(m.Key)
	if err := ctx.Err(); err != nil {
		return false, err
	}
	resp, err := n.client.SendSms(req)
	if err != nil {
		return classifyErr(notify.ChannelSMS, err)
	}
	if resp.Code != "OK" {
		pe := &notify.ProviderError{Channel: notify.ChannelSMS, Kind: CodeKind(resp.Code), Code: resp.Code,
			Status: resp.GetHttpStatus(), Message: resp.Message}
		return pe.Kind == notify.Transient, pe
	}
	return false, nil
}

// classifyErr classifies an SDK error of either service.
func classifyErr(ch notify.Channel, err error) (bool, error) {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		kind := CodeKind(se.ErrorCode())
		if kind == notify.Permanent && se.HttpStatus() >= 500 {
			kind = notify.Transient
		}
		pe := &notify.ProviderError{Channel: ch, Kind: kind, Code: se.ErrorCode(), Status: se.HttpStatus(), Message: se.Message()}
		return kind == notify.Transient, pe
	}
	// Transport errors (timeouts, refused connections) come back raw or
	// wrapped in a ClientError; both are worth another try.
	// The request URL carries the phone number: report only the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ce *sdkerrors.ClientError
	if errors.As(err, &ce) || notify.Retryable(err) {
		return true, fmt.Errorf("aliyun %s: send: %w", ch, err)
	}
	return false, fmt.Errorf("aliyun %s: send: %w", ch, err)
}

// CodeKind classifies an Aliyun SendSms or SingleCallByTts error code.
func CodeKind(code string) notify.ErrorKind {
	switch {
	case code == "isp.RAM_PERMISSION_DENY":
		return notify.Permanent // wrong credentials stay wrong
	case code == "isv.BUSINESS_LIMIT_CONTROL", code == "isv.DAY_LIMIT_CONTROL":
		return notify.Budget
	case code == "Throttling.User", code == "isp.SYSTEM_ERROR", strings.HasPrefix(code, "Throttling"), strings.HasPrefix(code, "isp."), code == "ServiceUnavailable", code == "InternalError":
		return notify.Transient
	}
	return notify.Permanent // isv.SMS_TEMPLATE_ILLEGAL, isv.MOBILE_NUMBER_ILLEGAL, isv.INVALID_PARAMETERS, ...
}

// outID keeps the notification key within OutId's 256 characters.
func outID(k string) string {
	if len(k) > 256 {
		return k[:256]
	}
	return k
}
