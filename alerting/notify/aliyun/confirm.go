package aliyun

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/dysmsapi"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

// Limits of QuerySendDetails: pages of at most 50, days within the last
// 30; the pages read per day are bounded here (far above the provider's
// own daily limit per number).
const (
	queryPageSize = 50
	queryMaxPages = 20
	queryMaxDays  = 30
)

// sendStatusFailed is SendStatus 2: the carrier reported the SMS
// undeliverable (1 is waiting for the receipt, 3 delivered).
const sendStatusFailed = 2

// beijing is the provider's zone: SendDate is a day in Beijing time.
var beijing = time.FixedZone("CST", 8*3600)

var _ notify.Confirmer = (*Notifier)(nil)

// Confirm asks QuerySendDetails whether an SMS with m.Key as its OutId went
// to m.To.Phone on the days from since to now. The API reference lists a
// message once taken, with status 1 ("waiting for the receipt"), so a
// message taken just before a crash is found (the suite's fake provider
// does so; not yet checked against the service). One the carrier reported
// undeliverable counts as not taken: it is sent again.
func (n *Notifier) Confirm(ctx context.Context, m notify.Message, since time.Time) (bool, error) {
	clock := notify.RealClock{}.Now
	if n.Now != nil {
		clock = n.Now
	}
	now := clock().In(beijing)
	day := since.In(beijing)
	if oldest := now.AddDate(0, 0, -queryMaxDays+1); day.Before(oldest) {
		day = oldest
	}
	want := outID(m.Key)
	for {
		took, err := n.confirmOn(ctx, m.To.Phone, day.Format("20060102"), want)
		if err != nil || took || !day.Before(now) || sameDay(day, now) {
			return took, err
		}
		day = day.AddDate(0, 0, 1)
	}
}

// confirmOn reads the SMS to phone on date, page by page, for one with
// OutId want that was not reported undeliverable.
func (n *Notifier) confirmOn(ctx context.Context, phone, date, want string) (bool, error) {
	for page := 1; page <= queryMaxPages; page++ {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		req := dysmsapi.CreateQuerySendDetailsRequest()
		req.Scheme = n.cfg.Scheme
		req.Domain = n.cfg.Endpoint
		req.PhoneNumber = phone
		req.SendDate = date
		req.PageSize = requests.NewInteger(queryPageSize)
		req.CurrentPage = requests.NewInteger(page)
		resp, err := n.client.QuerySendDetails(req)
		if err != nil {
			_, err = classifyErr(notify.ChannelSMS, err)
			return false, fmt.Errorf("aliyun: QuerySendDetails: %w", err)
		}
		if resp.Code != "OK" {
			return false, &notify.ProviderError{Channel: notify.ChannelSMS, Kind: CodeKind(resp.Code), Code: resp.Code,
				Status: resp.GetHttpStatus(), Message: "QuerySendDetails: " + resp.Message}
		}
		ds := resp.SmsSendDetailDTOs.SmsSendDetailDTO
		for _, d := range ds {
			if d.OutId == want && d.SendStatus != sendStatusFailed {
				return true, nil
			}
		}
		total, _ := strconv.Atoi(resp.TotalCount)
		if len(ds) < queryPageSize || page*queryPageSize >= total {
			return false, nil
		}
	}
	return false, nil
}

func sameDay(a, b time.Time) bool { return a.Format("20060102") == b.Format("20060102") }
