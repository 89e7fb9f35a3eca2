package tencent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

// TestConfirm asks a local server that checks the TC3 signature as
// Tencent's does, and answers PullSmsSendStatusByPhoneNumber as Tencent
// does, whether a message was delivered.
func TestConfirm(t *testing.T) {
	const key = "ep1|firing|operator|0|op-1"
	now := time.Date(2025, 3, 4, 9, 10, 0, 0, time.UTC)
	since := now.Add(-5 * time.Minute)
	long := strings.Repeat("k", 510) + "阳光托育" // cut to 510 bytes, not mid-character
	status := func(sc, report string) string {
		return fmt.Sprintf(`{"UserReceiveTime":%d,"CountryCode":"86","SubscriberNumber":"13812341234","PhoneNumber":"+8613812341234",`+
			`"SerialNo":"2640:1","ReportStatus":%q,"Description":"DELIVRD","SessionContext":%q}`, since.Unix()+20, report, sc)
	}
	set := func(sts ...string) string {
		return `{"Response":{"PullSmsSendStatusSet":[` + strings.Join(sts, ",") + `],"RequestId":"r1"}}`
	}
	others := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = status(fmt.Sprintf("ep%d|firing|operator|0|op-1", i+2), "SUCCESS")
		}
		return out
	}
	apiErr := func(code string) string {
		return `{"Response":{"Error":{"Code":"` + code + `","Message":"x"},"RequestId":"r2"}}`
	}
	tests := []struct {
		name    string
		key     string
		since   time.Time
		status  int
		answer  string
		down    bool // the server is gone
		want    bool
		wantErr bool
		noCall  bool // Confirm answers without asking
	}{
		{name: "delivered", answer: set(status("other", "SUCCESS"), status(key, "SUCCESS")), want: true},
		{name: "delivery failed", answer: set(status(key, "FAIL"))},
		{name: "failed, then delivered", answer: set(status(key, "FAIL"), status(key, "SUCCESS")), want: true},
		{name: "not receipted yet", answer: set(others(3)...)},
		{name: "no statuses", answer: set()},
		{name: "no status set", answer: `{"Response":{"RequestId":"r1"}}`},
		{name: "delivered, in a full page", answer: set(append(others(99), status(key, "SUCCESS"))...), want: true},
		{name: "full page without the key", answer: set(others(100)...), wantErr: true},
		{name: "statuses without SessionContext", answer: set(`{"PhoneNumber":"+8613812341234","ReportStatus":"SUCCESS","SessionContext":null}`), wantErr: true},
		{name: "long key", key: long, answer: set(status(long[:510], "SUCCESS")), want: true},
		{name: "begin time refused", answer: apiErr("InvalidParameterValue.BeginTimeVerifyFail"), wantErr: true},
		{name: "internal error", answer: apiErr("InternalError.Timeout"), wantErr: true},
		{name: "5xx", status: 502, answer: "bad gateway", wantErr: true},
		{name: "server down", down: true, wantErr: true, noCall: true},
		{name: "beyond the 7 days", since: now.Add(-7 * 24 * time.Hour), wantErr: true, noCall: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.key == "" {
				tc.key = key
			}
			if tc.since.IsZero() {
				tc.since = since
			}
			if tc.status == 0 {
				tc.status = 200
			}
			var calls atomic.Int32
			n, srv := newTestNotifier(t, "PullSmsSendStatusByPhoneNumber", tc.status, tc.answer, func(body []byte) {
				calls.Add(1)
				var req struct {
					BeginTime, EndTime, Limit uint64
					Offset                    *uint64
					PhoneNumber, SmsSdkAppId  string
				}
				if err := json.Unmarshal(body, &req); err != nil {
					t.Error(err)
				}
				if req.BeginTime != uint64(tc.since.Add(-time.Minute).Unix()) || req.EndTime != uint64(now.Unix()) || req.Limit != 100 ||
					req.Offset == nil || *req.Offset != 0 || req.PhoneNumber != "+8613812341234" || req.SmsSdkAppId != "1400000000" {
					t.Errorf("request %s", body)
				}
			})
			n.Now = func() time.Time { return now }
			if tc.down {
				srv.Close()
			}
			got, err := n.Confirm(context.Background(), notify.Message{Key: tc.key, Channel: notify.ChannelSMS, To: notify.Contact{Phone: "13812341234"}}, tc.since)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("Confirm = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "13812341234") {
				t.Fatalf("phone number in error: %v", err)
			}
			if want := map[bool]int32{false: 1, true: 0}[tc.noCall]; calls.Load() != want {
				t.Fatalf("%d requests, want %d (one page: the pull's Offset is fixed at 0)", calls.Load(), want)
			}
		})
	}
}

// TestSessionContext keeps keys within SessionContext's 511 bytes without
// cutting a character, so that the receipt carries back what Confirm
// looks for.
func TestSessionContext(t *testing.T) {
	tests := []struct {
		key     string
		wantLen int
	}{
		{"ep1|firing|operator|0|op-1", 26},
		{strings.Repeat("k", 511), 511},
		{strings.Repeat("k", 600), 511},
		{strings.Repeat("k", 510) + "阳光", 510},
		{strings.Repeat("k", 508) + "阳光", 511},
		{"", 0},
	}
	for _, tc := range tests {
		got := sessionContext(tc.key)
		if len(got) != tc.wantLen || !utf8.ValidString(got) || !strings.HasPrefix(tc.key, got) {
			t.Errorf("sessionContext(%d bytes) = %d bytes %q", len(tc.key), len(got), got)
		}
	}
}
