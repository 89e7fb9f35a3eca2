package aliyun

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

func pct(s string) string {
	s = url.QueryEscape(s)
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(s)
}

// verifyRPC recomputes Aliyun's RPC signature (HMAC-SHA1, key secret+"&").
func verifyRPC(r *http.Request, body []byte, secret string) (url.Values, error) {
	params := r.URL.Query()
	form, _ := url.ParseQuery(string(body))
	for k, v := range form {
		params[k] = v
	}
	sig := params.Get("Signature")
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, pct(k)+"="+pct(params.Get(k)))
	}
	sts := r.Method + "&" + pct("/") + "&" + pct(strings.Join(parts, "&"))
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(sts))
	if want := base64.StdEncoding.EncodeToString(m.Sum(nil)); want != sig {
		return nil, errors.New("signature mismatch: got " + sig + " want " + want)
	}
	return params, nil
}

func TestNotify(t *testing.T) {
	tests := []struct {
		name                   string
		status                 int
		answer                 string
		hang                   bool
		wantErr, retry, budget bool
	}{
		{"ok", 200, `{"Code":"OK","Message":"OK","BizId":"1","RequestId":"r"}`, false, false, false, false},
		{"business limit", 200, `{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发分钟级流控","RequestId":"r"}`, false, true, false, true},
		{"bad number", 200, `{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"x","RequestId":"r"}`, false, true, false, false},
		{"5xx", 503, `{"Code":"ServiceUnavailable","Message":"x","RequestId":"r"}`, false, true, true, false},
		{"timeout", 200, ``, true, true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := rpcServer(t, func(p url.Values) {
				var tp map[string]string
				json.Unmarshal([]byte(p.Get("TemplateParam")), &tp)
				if p.Get("Action") != "SendSms" || p.Get("Version") != "2017-05-25" || p.Get("PhoneNumbers") != "13812341234" ||
					p.Get("SignName") != "托育安全" || p.Get("TemplateCode") != "SMS_1" || tp["facility"] != "阳光托育" || tp["code"] != "654321" || p.Get("AccessKeyId") != "ak" {
					t.Errorf("params %v", p)
				}
			}, tc.status, tc.answer, tc.hang)
			defer srv.Close()
			n, err := New(Config{AccessKeyID: "ak", AccessKeySecret: "sk", SignName: "托育安全", Endpoint: strings.TrimPrefix(srv.URL, "http://"), Scheme: "HTTP", Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			retry, err := n.Notify(context.Background(), notify.Message{Key: "k", To: notify.Contact{Phone: "13812341234"}, Template: "SMS_1",
				Params: map[string]string{"facility": "阳光托育", "code": "654321"}})
			if (err != nil) != tc.wantErr || retry != tc.retry || errors.Is(err, notify.ErrBudgetExhausted) != tc.budget {
				t.Fatalf("retry=%v err=%v", retry, err)
			}
			if err != nil && strings.Contains(err.Error(), "13812341234") {
				t.Fatalf("phone number in error: %v", err)
			}
		})
	}
}

// rpcServer answers like Aliyun's RPC endpoint: it checks the request's
// signature, hands its parameters to check, then answers status and body,
// or hangs until the client gives up.
func rpcServer(t *testing.T, check func(url.Values), status int, answer string, hang bool) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p, err := verifyRPC(r, body, "sk")
		if err != nil {
			t.Error(err)
			return
		}
		check(p)
		if hang {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
}
