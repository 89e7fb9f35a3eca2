package tencent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

// TestVoice calls SendTtsVoice through the common module's generic request
// against a local server that checks the TC3 signature as Tencent's does.
func TestVoice(t *testing.T) {
	tests := []struct {
		name                   string
		status                 int
		answer                 string
		wantErr, retry, budget bool
	}{
		{"ok", 200, `{"Response":{"SendStatus":{"CallId":"c1","SessionContext":"k"},"RequestId":"r1"}}`, false, false, false},
		{"limit", 200, `{"Response":{"Error":{"Code":"LimitExceeded.PhoneNumberDailyLimit","Message":"limit"},"RequestId":"r2"}}`, true, false, true},
		{"bad template", 200, `{"Response":{"Error":{"Code":"FailedOperation.TemplateIncorrectOrUnapproved","Message":"x"},"RequestId":"r3"}}`, true, false, false},
		{"internal error", 200, `{"Response":{"Error":{"Code":"InternalError.Timeout","Message":"x"},"RequestId":"r4"}}`, true, true, false},
		{"5xx", 502, `bad gateway`, true, true, false},
		{"no status", 200, `{"Response":{"RequestId":"r5"}}`, true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if err := verifyTC3For(r, body, "AKID", "secret", "vms", "SendTtsVoice", "2020-09-02"); err != nil {
					t.Error(err)
				}
				var req struct {
					TemplateId       string
					TemplateParamSet []string
					CalledNumber     string
					VoiceSdkAppid    string
					PlayTimes        int
					SessionContext   string
				}
				if err := json.Unmarshal(body, &req); err != nil {
					t.Error(err)
				}
				if req.CalledNumber != "+8613812341234" || req.VoiceSdkAppid != "1400006666" || req.TemplateId != "4356" || req.PlayTimes != 2 ||
					strings.Join(req.TemplateParamSet, ",") != "阳光托育,乳儿班,检测到烟雾,（09:05起）,654321" || req.SessionContext != "k" {
					t.Errorf("request %+v", req)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.answer)
			}))
			defer srv.Close()
			v, err := NewVoice(VoiceConfig{SecretID: "AKID", SecretKey: "secret", VoiceSdkAppID: "1400006666",
				Endpoint: strings.TrimPrefix(srv.URL, "http://"), Scheme: "HTTP"})
			if err != nil {
				t.Fatal(err)
			}
			retry, err := v.Notify(context.Background(), notify.Message{Key: "k", Channel: notify.ChannelVoice, To: notify.Contact{Phone: "13812341234"},
				Template: "4356", Params: map[string]string{"facility": "阳光托育", "room": "乳儿班", "what": "检测到烟雾", "detail": "（09:05起）", "code": "654321"}})
			if (err != nil) != tc.wantErr || retry != tc.retry || errors.Is(err, notify.ErrBudgetExhausted) != tc.budget {
				t.Fatalf("retry=%v err=%v", retry, err)
			}
			if err != nil && strings.Contains(err.Error(), "13812341234") {
				t.Fatalf("phone number in error: %v", err)
			}
		})
	}
	if _, err := NewVoice(VoiceConfig{SecretID: "a", SecretKey: "b"}); err == nil {
		t.Fatal("no voice_sdk_app_id accepted")
	}
}
