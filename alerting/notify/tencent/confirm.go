package tencent

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

// Limits of SendSms and PullSmsSendStatusByPhoneNumber (2021-01-11), as
// Tencent's API reference gives them.
const (
	// maxSessionContext: SendSms takes a SessionContext shorter than 512
	// bytes.
	maxSessionContext = 511
	// pullLimit is the most statuses one pull returns. The pull's Offset
	// is documented as "currently fixed at 0": there is no second page.
	pullLimit = 100
	// pullHorizon is how far back a pull reaches: the last 7 days.
	pullHorizon = 7 * 24 * time.Hour
	// pullSkew widens the window's start for the difference between this
	// host's clock and Tencent's.
	pullSkew = time.Minute
	// reportDelivered is a carrier receipt's ReportStatus for a delivered
	// message; the other is "FAIL".
	reportDelivered = "SUCCESS"
)

var _ notify.Confirmer = (*Notifier)(nil)

// Confirm asks Tencent (PullSmsSendStatusByPhoneNumber) whether the SMS
// with key m.Key reached m.To.Phone at or after since: true when a status
// of that number carries the key as its SessionContext and the report
// "SUCCESS"; false when the report is "FAIL" or no status carries the key,
// so that the message is sent again.
//
// Tencent's status pull holds carrier receipts, and a receipt comes
// seconds to minutes after SendSms took the message. A message taken but
// not yet receipted is not found, and Confirm answers false: an SMS whose
// sending was cut short within that delay can reach the phone twice.
// (Aliyun's QuerySendDetails lists a message as soon as it is taken, as
// "waiting for receipt"; Tencent's pull does not.) The statuses carry
// SessionContext only where Tencent has enabled it for the account (the API
// reference says to ask its SMS support); statuses without one make
// Confirm return an error rather than a quiet false.
//
// Confirm cannot tell, and returns an error, when since is more than 7
// days back (the pull's reach), when the window holds a full page of 100
// statuses without the key (the pull has no second page), and on every
// API or transport error.
func (n *Notifier) Confirm(ctx context.Context, m notify.Message, since time.Time) (bool, error) {
	sc := sessionContext(m.Key)
	if sc == "" {
		return false, errors.New("tencent sms: confirm: the message has no key")
	}
	now := notify.RealClock{}.Now
	if n.Now != nil {
		now = n.Now
	}
	end := now()
	begin := since.Add(-pullSkew)
	if begin.Before(end.Add(-pullHorizon)) {
		return false, fmt.Errorf("tencent sms: confirm: %s is beyond the %s the status pull reaches", begin.Format(time.RFC3339), pullHorizon)
	}
	if end.Before(begin) {
		end = begin
	}
	req := sms.NewPullSmsSendStatusByPhoneNumberRequest()
	req.BeginTime = unixSeconds(begin)
	req.EndTime = unixSeconds(end)
	req.Offset = new(uint64)
	limit := uint64(pullLimit)
	req.Limit = &limit
	phone := e164(m.To.Phone)
	req.PhoneNumber = &phone
	req.SmsSdkAppId = &n.cfg.SdkAppID
	resp, err := n.client.PullSmsSendStatusByPhoneNumberWithContext(ctx, req)
	if err != nil {
		_, err = classifyErr(notify.ChannelSMS, err)
		return false, fmt.Errorf("tencent sms: confirm: %w", err)
	}
	if resp.Response == nil {
		return false, errors.New("tencent sms: confirm: answer without a status set")
	}
	set := resp.Response.PullSmsSendStatusSet
	keyed := 0
	for _, st := range set {
		if st == nil || st.SessionContext == nil || *st.SessionContext == "" {
			continue
		}
		keyed++
		if *st.SessionContext != sc {
			continue
		}
		if st.ReportStatus != nil && *st.ReportStatus == reportDelivered {
			return true, nil
		}
	}
	switch {
	case len(set) >= pullLimit:
		return false, fmt.Errorf("tencent sms: confirm: %d statuses since %s without a delivered one of this key, and no second page", len(set), begin.Format(time.RFC3339))
	case keyed == 0 && len(set) > 0:
		return false, fmt.Errorf("tencent sms: confirm: %d statuses without SessionContext (Tencent returns it only where enabled for the account)", len(set))
	}
	return false, nil
}

// unixSeconds is t as the pull takes it.
func unixSeconds(t time.Time) *uint64 {
	s := uint64(max(t.Unix(), 0))
	return &s
}

// sessionContext fits a notification key in SessionContext, cut at a
// character boundary so that Tencent returns exactly what Confirm looks for.
func sessionContext(key string) string {
	if len(key) <= maxSessionContext {
		return key
	}
	k := key[:maxSessionContext]
	for len(k) > 0 && !utf8.RuneStart(key[len(k)]) {
		k = k[:len(k)-1]
	}
	return k
}
