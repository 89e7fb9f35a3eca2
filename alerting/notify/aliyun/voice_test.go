package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

// TestVoice places a SingleCallByTts call with the official SDK against a
// local server that speaks Aliyun's RPC protocol and checks the signature.
func TestVoice(t *testing.T) {
	tests := []struct {
		name                   string
		status                 int
		answer                 string
		hang                   bool
		wantErr, retry, budget bool
	}{
		{"ok", 200, `{"Code":"OK","Message":"OK","CallId":"116012354148^1","RequestId":"r"}`, false, false, false, false},
		{"flow control", 200, `{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发流控","RequestId":"r"}`, false, true, false, true},
		{"out of service", 200, `{"Code":"isv.OUT_OF_SERVICE","Message":"停机","RequestId":"r"}`, false, true, false, false},
		{"system error", 200, `{"Code":"isp.SYSTEM_ERROR","Message":"x","RequestId":"r"}`, false, true, true, false},
		{"5xx", 503, `{"Code":"ServiceUnavailable","Message":"x","RequestId":"r"}`, false, true, true, false},
		{"timeout", 200, ``, true, true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := rpcServer(t, func(p url.Values) {
				var tp map[string]string
				json.Unmarshal([]byte(p.Get("TtsParam")), &tp)
				if p.Get("Action") != "SingleCallByTts" || p.Get("Version") != "2017-05-25" || p.Get("CalledNumber") != "13812341234" ||
					p.Get("CalledShowNumber") != "057100000000" || p.Get("TtsCode") != "TTS_1" || p.Get("PlayTimes") != "2" ||
					tp["what"] != "检测到烟雾" || tp["code"] != "654321" || len(p.Get("OutId")) != 15 || p.Get("AccessKeyId") != "ak" {
					t.Errorf("params %v", p)
				}
			}, tc.status, tc.answer, tc.hang)
			defer srv.Close()
			v, err := NewVoice(VoiceConfig{AccessKeyID: "ak", AccessKeySecret: "sk", CalledShowNumber: "057100000000",
				Endpoint: strings.TrimPrefix(srv.URL, "http://"), Scheme: "HTTP", Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			retry, err := v.Notify(context.Background(), notify.Message{Key: "k", Channel: notify.ChannelVoice, To: notify.Contact{Phone: "+8613812341234"},
				Template: "TTS_1", Params: map[string]string{"facility": "阳光托育", "what": "检测到烟雾", "code": "654321"}})
			if (err != nil) != tc.wantErr || retry != tc.retry || errors.Is(err, notify.ErrBudgetExhausted) != tc.budget {
				t.Fatalf("retry=%v err=%v", retry, err)
			}
			if err != nil && strings.Contains(err.Error(), "13812341234") {
				t.Fatalf("phone number in error: %v", err)
			}
		})
	}
	if _, err := NewVoice(VoiceConfig{AccessKeyID: "ak", AccessKeySecret: "sk", PlayTimes: 4}); err == nil {
		t.Fatal("play_times 4 accepted")
	}
}
