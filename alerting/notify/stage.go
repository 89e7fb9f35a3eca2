package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/cradlewatch/cradlewatch/access/audit"
)

// Entry is one alert inside a notification, with the key under which its
// delivery is remembered.
type Entry struct {
	Alert  Alert
	Step   string
	Repeat int
	Key    string // episode | kind | step | repeat | recipient
	Target Target
	d      *delivery
}

// Notification is one message-to-be for one recipient: the alerts of one
// facility, kind and severity grouped within their wait. Stages narrow and
// annotate it.
type Notification struct {
	Recipient   Contact
	RecipientID string
	Kind        Kind
	Severity    Severity
	Step        string
	Entries     []Entry
	// Channels to try, in order; set by the plan stage (the send stage may
	// add voice when the SMS of a critical notice fails).
	Channels []Channel
	// All: deliver on every planned channel (a critical alert's firing and
	// escalation notices); otherwise on the first that works.
	All      bool
	Fallback bool     // SMS was not tried first (budget spent)
	Failures []string // what failed on the way, for the record
}

// Stage is one step of the path from alert to message. A stage removes
// entries it finished (silenced, already sent, not to be sent) and the path
// stops when none are left.
type Stage interface {
	Exec(ctx context.Context, n *Notification) error
}

// StageFunc adapts a function to Stage.
type StageFunc func(ctx context.Context, n *Notification) error

// Exec calls f.
func (f StageFunc) Exec(ctx context.Context, n *Notification) error { return f(ctx, n) }

// Pipeline runs stages in order.
type Pipeline []Stage

// Exec runs each stage until one fails or no entries remain.
func (p Pipeline) Exec(ctx context.Context, n *Notification) error {
	for i, s := range p {
		if len(n.Entries) == 0 {
			return nil
		}
		if err := s.Exec(ctx, n); err != nil {
			return fmt.Errorf("stage %d: %w", i, err)
		}
	}
	return nil
}

func entryKey(a Alert, kind Kind, step string, repeat int, recipient string) string {
	return fmt.Sprintf("%s|%s|%s|%d|%s", a.episode(), kind, step, repeat, recipient)
}

// recipientID names a contact for dedup even if the config gave no id.
// A number is named by its keyed pseudonym (never the number itself, which
// would end up in the outbox and the notification log); k is nil only for
// RenderMessage, whose key is never stored.
func recipientID(c Contact, k *audit.PhoneKeyer) string {
	switch {
	case c.ID != "":
		return c.ID
	case c.Phone != "" && k == nil:
		return "phone:" + audit.MaskPhone(c.Phone)
	case c.Phone != "":
		return "phone:" + k.Key(c.Phone)
	case c.Email != "":
		return "email:" + c.Email
	}
	return "url:" + c.Webhook + c.DingTalk + c.WeCom
}

// delivery is a pending notice's progress, kept in memory: which channels
// delivered it or gave up (the notification log has both, so a restart
// resumes where it was), the attempts of the channel being retried and
// when to try again.
type delivery struct {
	n        *Notice
	sent     map[Channel]bool
	failed   map[Channel]bool
	attempts map[Channel]int
	// notBefore holds each channel's next attempt after a transient
	// failure; retryAt is the earliest of them (when the notice is ready
	// again).
	notBefore map[Channel]time.Time
	retryAt   time.Time
	// doubt holds each channel's attempt that has no answer yet (read from
	// the notification log after a restart, set by each attempt, cleared
	// by an answer or by the provider's reply to the question): the
	// provider is asked before the next attempt.
	doubt    map[Channel]Doubt
	inFlight bool // in the sender's hands: not cancelled under it
	finished bool // reached a final outcome, recorded in the notification log
}

// channels is every channel, in the order the send stage reports them.
var channels = []Channel{ChannelSMS, ChannelVoice, ChannelDingTalk, ChannelWeCom, ChannelWebhook, ChannelEmail}

func (d *Dispatcher) newDelivery(n *Notice) *delivery {
	lv := &delivery{n: n, sent: map[Channel]bool{}, failed: map[Channel]bool{}, attempts: map[Channel]int{}, notBefore: map[Channel]time.Time{},
		doubt: map[Channel]Doubt{}}
	for _, ch := range channels {
		lv.sent[ch] = d.log.sent(n.Key, ch)
		lv.failed[ch] = d.log.failed(n.Key, ch)
		if dt, ok := d.log.inDoubt(n.Key, ch); ok {
			lv.doubt[ch] = dt
		}
	}
	return lv
}

func (lv *delivery) anySent() bool {
	for _, ok := range lv.sent {
		if ok {
			return true
		}
	}
	return false
}

// earliestRetry is the next attempt of a channel not done with; zero when
// none is scheduled.
func (lv *delivery) earliestRetry() time.Time {
	var t time.Time
	for ch, at := range lv.notBefore {
		if !lv.settled(ch) && (t.IsZero() || at.Before(t)) {
			t = at
		}
	}
	return t
}

// settled reports whether ch is done with for this notice.
func (lv *delivery) settled(ch Channel) bool { return lv.sent[ch] || lv.failed[ch] }

// complete reports whether the notice needs nothing more on the planned
// channels: every one settled (all), or one delivered or every one failed
// (first that works).
func (lv *delivery) complete(planned []Channel, all bool) bool {
	if !all && lv.anySent() {
		return true
	}
	for _, ch := range planned {
		if !lv.settled(ch) {
			return false
		}
	}
	return true
}
