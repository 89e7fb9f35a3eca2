package httpsms

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

func TestNotify(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		status    int
		answer    string
		wantRetry bool
		wantKind  notify.ErrorKind
		wantErr   bool
	}{
		{"ok with token", "T0K", 200, `{"code":"OK"}`, false, 0, false},
		{"ok without token", "", 200, `{"code":"OK"}`, false, 0, false},
		{"limit is a budget answer", "T0K", 200, `{"code":"LIMIT_DAY","message":"10 per day"}`, false, notify.Budget, true},
		{"retry code is transient", "T0K", 200, `{"code":"RETRY_LATER"}`, true, notify.Transient, true},
		{"other code is permanent", "T0K", 200, `{"code":"BAD_TEMPLATE"}`, false, notify.Permanent, true},
		{"unreadable answer is transient", "T0K", 200, `not json`, true, notify.Transient, true},
		{"429 is transient", "T0K", 429, ``, true, notify.Transient, true},
		{"401 is permanent", "T0K", 401, ``, false, notify.Permanent, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				wantAuth := ""
				if tc.token != "" {
					wantAuth = "Bearer " + tc.token
				}
				if r.Method != http.MethodPost || r.URL.Path != "/send" || r.Header.Get("Authorization") != wantAuth {
					t.Errorf("request %s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
				}
				var req Request
				dec := json.NewDecoder(r.Body)
				dec.DisallowUnknownFields()
				if err := dec.Decode(&req); err != nil {
					t.Errorf("body: %v", err)
				}
				want := Request{ID: "fp@1|firing|operator|0|op1", Phone: "13812341234", SignName: "托育安全", Template: "SMS_CW_ALERT",
					Params: map[string]string{notify.ParamFacility: "示例托育园", notify.ParamCode: "482913"}}
				if req.ID != want.ID || req.Phone != want.Phone || req.SignName != want.SignName || req.Template != want.Template ||
					len(req.Params) != 2 || req.Params[notify.ParamCode] != "482913" || req.Params[notify.ParamFacility] != "示例托育园" {
					t.Errorf("request body %+v", req)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.answer))
			}))
			defer srv.Close()
			n := &Notifier{Cfg: Config{URL: srv.URL + "/send", Token: tc.token, SignName: "托育安全"}, Client: srv.Client()}
			retry, err := n.Notify(context.Background(), notify.Message{Key: "fp@1|firing|operator|0|op1", Channel: notify.ChannelSMS,
				To: notify.Contact{ID: "op1", Phone: "13812341234"}, Template: "SMS_CW_ALERT",
				Params: map[string]string{notify.ParamFacility: "示例托育园", notify.ParamCode: "482913"}})
			if retry != tc.wantRetry || (err != nil) != tc.wantErr {
				t.Fatalf("retry %v err %v", retry, err)
			}
			if err == nil {
				return
			}
			var pe *notify.ProviderError
			if !errors.As(err, &pe) || pe.Kind != tc.wantKind {
				t.Fatalf("error %#v, want kind %v", err, tc.wantKind)
			}
			if errors.Is(err, notify.ErrBudgetExhausted) != (tc.wantKind == notify.Budget) {
				t.Fatalf("errors.Is(ErrBudgetExhausted) wrong for %v", err)
			}
			if strings.Contains(err.Error(), "13812341234") {
				t.Fatalf("error leaks the number: %v", err)
			}
		})
	}
}

func FuzzAnswer(f *testing.F) {
	f.Add([]byte(`{"code":"OK"}`))
	f.Add([]byte(`{"code":"LIMIT"}`))
	f.Fuzz(func(t *testing.T, answer []byte) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(answer) }))
		defer srv.Close()
		n := &Notifier{Cfg: Config{URL: srv.URL}, Client: srv.Client()}
		retry, err := n.Notify(context.Background(), notify.Message{To: notify.Contact{Phone: "13812341234"}})
		if err == nil && retry {
			t.Fatal("retry without error")
		}
	})
}
