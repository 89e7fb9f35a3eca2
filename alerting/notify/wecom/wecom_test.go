package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

func TestNotify(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		answer    string
		wantRetry bool
		wantKind  notify.ErrorKind
		wantErr   bool
	}{
		{"ok", 200, `{"errcode":0,"errmsg":"ok"}`, false, 0, false},
		{"robot throttled (45009) is transient", 200, `{"errcode":45009,"errmsg":"api freq out of limit"}`, true, notify.Transient, true},
		{"system busy (-1) is transient", 200, `{"errcode":-1,"errmsg":"system busy"}`, true, notify.Transient, true},
		{"invalid webhook key is permanent", 200, `{"errcode":93000,"errmsg":"invalid webhook url"}`, false, notify.Permanent, true},
		{"gateway error page is transient", 200, `<html>502</html>`, true, notify.Transient, true},
		{"5xx is transient", 503, ``, true, notify.Transient, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Query().Get("key") != "K1" || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
					t.Errorf("request %s %s %q", r.Method, r.URL, r.Header.Get("Content-Type"))
				}
				var body struct {
					MsgType  string            `json:"msgtype"`
					Markdown map[string]string `json:"markdown"`
				}
				if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
					t.Errorf("body: %v", err)
				}
				if body.MsgType != "markdown" || body.Markdown["content"] != "**【托育安全】示例托育园 温度过高**\n乳儿班 温度 31℃" {
					t.Errorf("body %+v", body)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.answer))
			}))
			defer srv.Close()
			n := &Notifier{Client: srv.Client()}
			retry, err := n.Notify(context.Background(), notify.Message{
				To: notify.Contact{WeCom: srv.URL + "/cgi-bin/webhook/send?key=K1"}, Subject: "【托育安全】示例托育园 温度过高", Text: "乳儿班 温度 31℃"})
			if retry != tc.wantRetry || (err != nil) != tc.wantErr {
				t.Fatalf("retry %v err %v", retry, err)
			}
			var pe *notify.ProviderError
			if tc.wantErr && (!errors.As(err, &pe) || pe.Kind != tc.wantKind || pe.Channel != notify.ChannelWeCom) {
				t.Fatalf("error %#v, want a %v ProviderError", err, tc.wantKind)
			}
		})
	}
}
