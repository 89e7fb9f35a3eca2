package notify

import (
	"context"
	"fmt"
)

// Entry is one alert inside a notification, with the key under which its
// delivery is remembered.
type Entry struct {
	Alert  Alert
	Step   string
	Repeat int
	Key    string // episode | kind | step | repeat | recipient
}

// Notification is one message-to-be for one recipient: the alerts of one
// facility grouped within group_wait. Stages narrow and annotate it.
type Notification struct {
	Recipient Contact
	Kind      Kind
	Step      string
	Entries   []Entry
	Channels  []Channel // to try in order; set by the budget stage
	Delivered Channel   // set by the send stage on success
	Fallback  bool      // delivered on other than the first choice of the recipient
	Failures  []string  // what failed on the way, for the record
}

// Stage is one step of the path from alert to message. A stage removes
// entries it handled (silenced, already sent) and the path stops when none
// are left.
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
func recipientID(c Contact) string {
	switch {
	case c.ID != "":
		return c.ID
	case c.Phone != "":
		return "phone:" + phoneKey(c.Phone)
	case c.Email != "":
		return "email:" + c.Email
	}
	return "url:" + c.Webhook + c.DingTalk + c.WeCom
}
