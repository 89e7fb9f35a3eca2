package aliyun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/dyvmsapi"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/internal/provider"
)

// VoiceConfig for the Aliyun voice notifier (语音服务, Dyvmsapi
// SingleCallByTts, 2017-05-25): a text-to-speech call with an approved TTS
// template. Empty credentials are taken from the SMS block.
type VoiceConfig struct {
	AccessKeyID     string `yaml:"access_key_id" mapstructure:"access_key_id"`
	AccessKeySecret string `yaml:"access_key_secret" mapstructure:"access_key_secret"`
	Region          string `yaml:"region" mapstructure:"region"` // default cn-hangzhou
	// CalledShowNumber is the number the call shows (a number bought in the
	// voice console, or a service instance id: 专属模式). Empty places the
	// call from the public number pool (公共模式), with TTS templates of
	// that mode.
	CalledShowNumber string        `yaml:"called_show_number" mapstructure:"called_show_number"`
	PlayTimes        int           `yaml:"play_times" mapstructure:"play_times"` // 1-3; default 2
	Volume           int           `yaml:"volume" mapstructure:"volume"`         // 0-100; default the provider's (100)
	Endpoint         string        `yaml:"endpoint" mapstructure:"endpoint"`     // default dyvmsapi.aliyuncs.com; host:port for tests
	Scheme           string        `yaml:"scheme" mapstructure:"scheme"`         // HTTPS (default) or HTTP
	Timeout          time.Duration `yaml:"timeout" mapstructure:"timeout"`       // per request; default 10s
}

// Voice places one call per Notify.
type Voice struct {
	cfg    VoiceConfig
	client *dyvmsapi.Client
}

// NewVoice builds the SDK client, with its retries off (a call is not
// idempotent; the notification path decides about retries).
func NewVoice(cfg VoiceConfig) (*Voice, error) {
	if cfg.AccessKeyID == "" || cfg.AccessKeySecret == "" {
		return nil, errors.New("aliyun voice: access_key_id and access_key_secret are required")
	}
	if err := provider.PlayTimes("aliyun voice", &cfg.PlayTimes); err != nil {
		return nil, err
	}
	provider.Endpoint{Region: &cfg.Region, Host: &cfg.Endpoint, Scheme: &cfg.Scheme, Timeout: &cfg.Timeout}.Fill("cn-hangzhou", "dyvmsapi.aliyuncs.com")
	c, err := dyvmsapi.NewClientWithAccessKey(cfg.Region, cfg.AccessKeyID, cfg.AccessKeySecret)
	if err != nil {
		return nil, fmt.Errorf("aliyun voice: client: %w", err)
	}
	c.GetConfig().AutoRetry = false
	c.SetConnectTimeout(cfg.Timeout)
	c.SetReadTimeout(cfg.Timeout)
	return &Voice{cfg: cfg, client: c}, nil
}

// Notify calls m.To.Phone and reads m's TTS template with its parameters.
func (v *Voice) Notify(ctx context.Context, m notify.Message) (bool, error) {
	if m.Template == "" {
		return false, &notify.ProviderError{Channel: notify.ChannelVoice, Kind: notify.Permanent, Code: "NoTemplate", Message: "no voice (TTS) template code configured for " + m.Lang}
	}
	params, err := json.Marshal(m.Params)
	if err != nil {
		return false, fmt.Errorf("aliyun voice: params: %w", err)
	}
	req := dyvmsapi.CreateSingleCallByTtsRequest()
	req.Scheme = v.cfg.Scheme
	req.Domain = v.cfg.Endpoint
	req.CalledNumber = mainland(m.To.Phone)
	req.CalledShowNumber = v.cfg.CalledShowNumber
	req.TtsCode = m.Template
	req.TtsParam = string(params)
	req.PlayTimes = requests.NewInteger(v.cfg.PlayTimes)
	if v.cfg.Volume > 0 {
		req.Volume = requests.NewInteger(v.cfg.Volume)
	}
	req.OutId = voiceOutID(m.Key)
	if err := ctx.Err(); err != nil {
		return false, err
	}
	resp, err := v.client.SingleCallByTts(req)
	if err != nil {
		return classifyErr(notify.ChannelVoice, err)
	}
	if resp.Code != "OK" {
		pe := &notify.ProviderError{Channel: notify.ChannelVoice, Kind: CodeKind(resp.Code), Code: resp.Code,
			Status: resp.GetHttpStatus(), Message: resp.Message}
		return pe.Kind == notify.Transient, pe
	}
	return false, nil
}

// mainland writes a mainland mobile number without its country code, as
// CalledNumber expects.
func mainland(p string) string {
	p = strings.TrimSpace(p)
	for _, pre := range []string{"+86", "0086"} {
		if strings.HasPrefix(p, pre) {
			return p[len(pre):]
		}
	}
	return p
}

// voiceOutID fits the notice key in OutId's 15 bytes: a hash, enough to
// match a call receipt to its notice.
func voiceOutID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])[:15]
}
