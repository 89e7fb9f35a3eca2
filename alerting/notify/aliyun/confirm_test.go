package aliyun

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/internal/fakealiyun"
)

// TestConfirm asks the provider, through the official SDK and the local
// server speaking its protocol, which SMS it took: by OutId and number,
// across pages, and says it cannot tell when the question fails.
func TestConfirm(t *testing.T) {
	srv, err := fakealiyun.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	n, err := New(Config{AccessKeyID: "id", AccessKeySecret: "secret", SignName: "托育安全", Endpoint: srv.Endpoint(), Scheme: "HTTP"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	msg := func(key, phone string) notify.Message {
		return notify.Message{Key: key, To: notify.Contact{Phone: phone}, Template: "SMS_1", Params: map[string]string{"code": "1"}}
	}
	since := time.Now().Add(-time.Minute)
	for i := range 60 { // more than one page of 50
		if _, err := n.Notify(ctx, msg(fmt.Sprintf("ep%02d|firing|operator|0|op1", i), "13812341234")); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, key, phone string
		since            time.Time
		want             bool
	}{
		{"taken, first page", "ep03|firing|operator|0|op1", "13812341234", since, true},
		{"taken, second page", "ep57|firing|operator|0|op1", "13812341234", since, true},
		{"never sent", "ep99|firing|operator|0|op1", "13812341234", since, false},
		{"sent to another number", "ep03|firing|operator|0|op1", "13900001111", since, false},
		{"since yesterday", "ep10|firing|operator|0|op1", "13812341234", since.Add(-24 * time.Hour), true},
		{"since long ago: the 30 days the provider keeps", "ep10|firing|operator|0|op1", "13812341234", since.AddDate(0, -3, 0), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := n.Confirm(ctx, msg(tc.key, tc.phone), tc.since)
			if err != nil || got != tc.want {
				t.Fatalf("Confirm = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	t.Run("the provider cannot be asked", func(t *testing.T) {
		srv.SetQueryFailing(true)
		defer srv.SetQueryFailing(false)
		if got, err := n.Confirm(ctx, msg("ep03|firing|operator|0|op1", "13812341234"), since); err == nil || got {
			t.Fatalf("Confirm = %v, %v; want an error", got, err)
		}
	})
	if got := len(srv.Calls()); got != 60 {
		t.Errorf("the provider saw %d sends; questions must not count as SMS", got)
	}
}
