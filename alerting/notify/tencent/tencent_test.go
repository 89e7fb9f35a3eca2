package tencent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

func hm(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// verifyTC3For recomputes the TC3-HMAC-SHA256 signature of a call to
// service's action as Tencent's server does, and checks the action
// headers.
func verifyTC3For(r *http.Request, body []byte, id, key, service, action, version string) error {
	auth := r.Header.Get("Authorization")
	ts := r.Header.Get("X-TC-Timestamp")
	sec, _ := strconv.ParseInt(ts, 10, 64)
	date := time.Unix(sec, 0).UTC().Format("2006-01-02")
	sum := sha256.Sum256(body)
	canon := fmt.Sprintf("POST\n/\n\ncontent-type:%s\nhost:%s\n\ncontent-type;host\n%s", r.Header.Get("Content-Type"), r.Host, hex.EncodeToString(sum[:]))
	cs := sha256.Sum256([]byte(canon))
	scope := date + "/" + service + "/tc3_request"
	sts := "TC3-HMAC-SHA256\n" + ts + "\n" + scope + "\n" + hex.EncodeToString(cs[:])
	k := hm(hm(hm([]byte("TC3"+key), date), service), "tc3_request")
	want := fmt.Sprintf("TC3-HMAC-SHA256 Credential=%s/%s, SignedHeaders=content-type;host, Signature=%s", id, scope, hex.EncodeToString(hm(k, sts)))
	if auth != want || r.Header.Get("X-TC-Action") != action || r.Header.Get("X-TC-Version") != version {
		return fmt.Errorf("bad signature or headers:\n got %s\nwant %s", auth, want)
	}
	return nil
}

// newTestNotifier returns a Notifier of a local server that speaks
// Tencent's SMS API: it checks each call's TC3 signature and action,
// hands the body to check and answers status and answer. The server is
// closed at the end of the test.
func newTestNotifier(t *testing.T, action string, status int, answer string, check func(body []byte)) (*Notifier, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := verifyTC3For(r, body, "AKID", "secret", "sms", action, "2021-01-11"); err != nil {
			t.Error(err)
		}
		check(body)
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	n, err := New(Config{SecretID: "AKID", SecretKey: "secret", SdkAppID: "1400000000", SignName: "托育安全",
		Endpoint: strings.TrimPrefix(srv.URL, "http://"), Scheme: "HTTP"})
	if err != nil {
		t.Fatal(err)
	}
	return n, srv
}

func TestNotify(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		answer    string
		wantErr   bool
		wantRetry bool
		budget    bool
	}{
		{"ok", 200, `{"Response":{"SendStatusSet":[{"Code":"Ok","PhoneNumber":"+8613812341234","Message":"send success"}],"RequestId":"r1"}}`, false, false, false},
		{"daily limit", 200, `{"Response":{"SendStatusSet":[{"Code":"LimitExceeded.PhoneNumberDailyLimit","Message":"limit"}],"RequestId":"r2"}}`, true, false, true},
		{"30s limit", 200, `{"Response":{"SendStatusSet":[{"Code":"LimitExceeded.PhoneNumberThirtySecondLimit","Message":"limit"}],"RequestId":"r2"}}`, true, false, true},
		{"bad template", 200, `{"Response":{"Error":{"Code":"FailedOperation.TemplateIncorrectOrUnapproved","Message":"x"},"RequestId":"r3"}}`, true, false, false},
		{"5xx", 503, `oops`, true, true, false},
		{"internal error", 200, `{"Response":{"Error":{"Code":"InternalError.Timeout","Message":"x"},"RequestId":"r4"}}`, true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, _ := newTestNotifier(t, "SendSms", tc.status, tc.answer, func(body []byte) {
				var req struct {
					PhoneNumberSet   []string
					SmsSdkAppId      string
					SignName         string
					TemplateId       string
					TemplateParamSet []string
					SessionContext   string
				}
				if err := json.Unmarshal(body, &req); err != nil {
					t.Error(err)
				}
				if strings.Join(req.PhoneNumberSet, ",") != "+8613812341234" || req.SmsSdkAppId != "1400000000" || req.TemplateId != "123456" || req.SessionContext != "k" ||
					strings.Join(req.TemplateParamSet, ",") != "阳光托育,乳儿班,二氧化碳浓度超标,（1小时均值1650ppm，限值1000ppm）,654321" {
					t.Errorf("request %+v", req)
				}
			})
			retry, err := n.Notify(context.Background(), notify.Message{Key: "k", To: notify.Contact{Phone: "13812341234"}, Template: "123456",
				Params: map[string]string{"facility": "阳光托育", "room": "乳儿班", "what": "二氧化碳浓度超标", "detail": "（1小时均值1650ppm，限值1000ppm）",
					"value": "1650ppm", "limit": "1000ppm", "code": "654321"}})
			if (err != nil) != tc.wantErr || retry != tc.wantRetry || errors.Is(err, notify.ErrBudgetExhausted) != tc.budget {
				t.Fatalf("retry=%v err=%v", retry, err)
			}
		})
	}
}
