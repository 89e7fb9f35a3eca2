package tencent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/internal/provider"
)

// Voice message service (语音消息, vms) API: the Go package for it is not
// available here, so calls go through the common module's generic request,
// which signs with TC3-HMAC-SHA256 like every typed client.
const (
	vmsService = "vms"
	vmsVersion = "2020-09-02"
	vmsAction  = "SendTtsVoice"
)

// VoiceConfig for the Tencent voice notifier (SendTtsVoice): a
// text-to-speech call with an approved voice template. Empty credentials
// are taken from the SMS block.
type VoiceConfig struct {
	SecretID      string        `yaml:"secret_id" mapstructure:"secret_id"`
	SecretKey     string        `yaml:"secret_key" mapstructure:"secret_key"`
	Region        string        `yaml:"region" mapstructure:"region"`                     // default ap-guangzhou
	VoiceSdkAppID string        `yaml:"voice_sdk_app_id" mapstructure:"voice_sdk_app_id"` // VoiceSdkAppid of the voice application
	PlayTimes     int           `yaml:"play_times" mapstructure:"play_times"`             // 1-3; default 2
	Endpoint      string        `yaml:"endpoint" mapstructure:"endpoint"`                 // default vms.tencentcloudapi.com; host:port for tests
	Scheme        string        `yaml:"scheme" mapstructure:"scheme"`                     // HTTPS (default) or HTTP
	Timeout       time.Duration `yaml:"timeout" mapstructure:"timeout"`                   // per request, rounded up to whole seconds; default 10s
	ParamOrder    []string      `yaml:"param_order" mapstructure:"param_order"`           // positional template parameters, by name
}

// Voice places one call per Notify.
type Voice struct {
	cfg    VoiceConfig
	client *common.Client
}

// NewVoice builds the generic client.
func NewVoice(cfg VoiceConfig) (*Voice, error) {
	if cfg.SecretID == "" || cfg.SecretKey == "" || cfg.VoiceSdkAppID == "" {
		return nil, errors.New("tencent voice: secret_id, secret_key and voice_sdk_app_id are required")
	}
	if err := provider.PlayTimes("tencent voice", &cfg.PlayTimes); err != nil {
		return nil, err
	}
	provider.Endpoint{Region: &cfg.Region, Host: &cfg.Endpoint, Scheme: &cfg.Scheme, Timeout: &cfg.Timeout}.Fill("ap-guangzhou", "vms.tencentcloudapi.com")
	if len(cfg.ParamOrder) == 0 {
		cfg.ParamOrder = DefaultParamOrder
	}
	c := common.NewCommonClient(common.NewCredential(cfg.SecretID, cfg.SecretKey), cfg.Region, clientProfile(cfg.Endpoint, cfg.Scheme, cfg.Timeout))
	c.WithHttpTransport(http.DefaultTransport.(*http.Transport).Clone())
	return &Voice{cfg: cfg, client: c}, nil
}

// sendStatus is SendTtsVoice's answer.
type sendStatus struct {
	Response struct {
		SendStatus *struct {
			CallID         string `json:"CallId"`
			SessionContext string `json:"SessionContext"`
		} `json:"SendStatus"`
	} `json:"Response"`
}

// Notify calls m.To.Phone and reads m's voice template with its parameters.
func (v *Voice) Notify(ctx context.Context, m notify.Message) (bool, error) {
	if m.Template == "" {
		return false, &notify.ProviderError{Channel: notify.ChannelVoice, Kind: notify.Permanent, Code: "NoTemplate", Message: "no voice template id configured for " + m.Lang}
	}
	params := make([]string, len(v.cfg.ParamOrder))
	for i, name := range v.cfg.ParamOrder {
		params[i] = m.Params[name]
	}
	req := tchttp.NewCommonRequest(vmsService, vmsVersion, vmsAction)
	req.SetContext(ctx)
	if err := req.SetActionParameters(map[string]any{
		"TemplateId": m.Template, "TemplateParamSet": params, "CalledNumber": e164(m.To.Phone),
		"VoiceSdkAppid": v.cfg.VoiceSdkAppID, "PlayTimes": v.cfg.PlayTimes, "SessionContext": m.Key,
	}); err != nil {
		return false, fmt.Errorf("tencent voice: %w", err)
	}
	resp := tchttp.NewCommonResponse()
	if err := v.client.Send(req, resp); err != nil {
		return classifyErr(notify.ChannelVoice, err)
	}
	var st sendStatus
	if err := json.Unmarshal(resp.GetBody(), &st); err != nil || st.Response.SendStatus == nil {
		return true, &notify.ProviderError{Channel: notify.ChannelVoice, Kind: notify.Transient, Code: "NoStatus", Message: "answer without a send status"}
	}
	return false, nil
}
