package dingtalk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

func TestNotifySignsAndClassifies(t *testing.T) {
	now := time.UnixMilli(1741000000123)
	for _, tc := range []struct {
		name   string
		answer string
		err    bool
		retry  bool
	}{
		{"ok", `{"errcode":0,"errmsg":"ok"}`, false, false},
		{"too fast", `{"errcode":130101,"errmsg":"send too fast"}`, true, true},
		{"bad sign", `{"errcode":310000,"errmsg":"sign not match"}`, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				ts, _ := strconv.ParseInt(q.Get("timestamp"), 10, 64)
				m := hmac.New(sha256.New, []byte("SECabc"))
				m.Write([]byte(q.Get("timestamp") + "\n" + "SECabc"))
				if ts != now.UnixMilli() || q.Get("sign") != base64.StdEncoding.EncodeToString(m.Sum(nil)) || q.Get("access_token") != "tok" {
					t.Errorf("bad query %v", q)
				}
				io.WriteString(w, tc.answer)
			}))
			defer srv.Close()
			n := &Notifier{Client: srv.Client(), Now: func() time.Time { return now }}
			retry, err := n.Notify(context.Background(), notify.Message{Subject: "s", Text: "t",
				To: notify.Contact{DingTalk: srv.URL + "/robot/send?access_token=tok", DingTalkSecret: "SECabc"}})
			if (err != nil) != tc.err || retry != tc.retry {
				t.Fatalf("retry=%v err=%v", retry, err)
			}
		})
	}
}
