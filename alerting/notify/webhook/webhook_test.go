package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

func TestNotifySignature(t *testing.T) {
	now := time.Unix(1741000000, 0)
	for _, tc := range []struct {
		name   string
		status int
		err    bool
		retry  bool
	}{{"ok", 200, false, false}, {"5xx", 502, true, true}, {"4xx", 400, true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				ts, _ := strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
				if ts != now.Unix() || r.Header.Get(HeaderSignature) != Sign("s3", ts, body) {
					t.Errorf("bad signature")
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			n := &Notifier{Client: srv.Client(), Now: func() time.Time { return now }}
			retry, err := n.Notify(context.Background(), notify.Message{Key: "k", To: notify.Contact{ID: "county", Webhook: srv.URL, WebhookSecret: "s3"}})
			if (err != nil) != tc.err || retry != tc.retry {
				t.Fatalf("retry=%v err=%v", retry, err)
			}
		})
	}
}
