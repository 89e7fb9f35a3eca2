package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// kindOrder ranks kinds for sending: a firing notice before the
// escalation and reminder, a resolution last.
var kindOrder = map[Kind]int{KindFiring: 0, KindEscalation: 1, KindReminder: 2, KindResolved: 3}

// sendsBefore orders notices for the sender: the most severe first, then
// by kind, then the one due first.
func sendsBefore(a, b *Notice) bool {
	switch {
	case a.Alert.Severity != b.Alert.Severity:
		return a.Alert.Severity > b.Alert.Severity
	case kindOrder[a.Kind] != kindOrder[b.Kind]:
		return kindOrder[a.Kind] < kindOrder[b.Kind]
	case !a.Due.Equal(b.Due):
		return a.Due.Before(b.Due)
	}
	return a.Key < b.Key
}

// flush sends every group that is ready, the most urgent first, one at a
// time: a crash can repeat at most the delivery in flight.
func (d *Dispatcher) flush(ctx context.Context) error {
	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	var errs []error
	for ctx.Err() == nil {
		now := d.clock.Now()
		d.mu.Lock()
		n, group := d.nextGroup(now)
		d.mu.Unlock()
		if n == nil {
			break
		}
		if err := d.pipeline.Exec(ctx, n); err != nil && ctx.Err() == nil {
			errs = append(errs, fmt.Errorf("notify %s: %w", n.RecipientID, err))
		}
		d.settle(group, now)
	}
	return errors.Join(errs...)
}

// settle takes a group back from the sender: finished notices leave the
// outbox's pending set (the notification log holds their outcome); the
// others wait for their retry.
func (d *Dispatcher) settle(group []*delivery, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, lv := range group {
		lv.inFlight = false
		if lv.finished {
			delete(d.live, lv.n.Key)
			d.out.done(lv.n.Key)
			continue
		}
		lv.retryAt = lv.earliestRetry()
		if !lv.retryAt.After(now) {
			// No stage moved it on: wait rather than spin.
			lv.retryAt = now.Add(d.cfg.Retry.InitialBackoff)
			d.logger.Error("notice made no progress; retrying later", "key", lv.n.Key)
		}
	}
}

// nextGroup picks the most urgent group that is ready at now: its first
// notice's wait is over and it has notices not waiting for a retry. A
// resolution waits while a notice announcing its alert to the same
// recipient is still pending. A group carries at most as many alerts as
// their codes fit in one SMS variable. The caller holds mu.
func (d *Dispatcher) nextGroup(now time.Time) (*Notification, []*delivery) {
	groups := map[string][]*delivery{}
	for _, lv := range d.live {
		if lv.inFlight || lv.finished || (lv.n.Kind == KindResolved && d.awaitsAnnouncement(lv)) {
			continue
		}
		gk := lv.n.groupKey()
		groups[gk] = append(groups[gk], lv)
	}
	var best []*delivery
	for _, g := range groups {
		due := g[0].n.Due
		var ready []*delivery
		for _, lv := range g {
			if lv.n.Due.Before(due) {
				due = lv.n.Due
			}
			if !lv.retryAt.After(now) {
				ready = append(ready, lv)
			}
		}
		if due.After(now) || len(ready) == 0 {
			continue
		}
		slices.SortFunc(ready, func(a, b *delivery) int {
			if before(a.n.Alert, b.n.Alert) {
				return -1
			}
			if before(b.n.Alert, a.n.Alert) {
				return 1
			}
			return cmp.Compare(a.n.Key, b.n.Key)
		})
		ready = ready[:min(len(ready), d.render.maxCodes())]
		if best == nil || sendsBefore(ready[0].n, best[0].n) {
			best = ready
		}
	}
	if best == nil {
		return nil, nil
	}
	first := best[0].n
	to, _ := d.contact(first.Recipient, first.Alert)
	n := &Notification{Recipient: to, RecipientID: first.Recipient, Kind: first.Kind,
		Severity: first.Alert.Severity, Step: first.Step}
	for _, lv := range best {
		lv.inFlight = true
		n.Entries = append(n.Entries, Entry{Alert: lv.n.Alert, Step: lv.n.Step, Repeat: lv.n.Repeat, Key: lv.n.Key, Target: lv.n.Target, d: lv})
	}
	return n, best
}

// awaitsAnnouncement: a notice of the same episode to the same recipient,
// other than a resolution, is still pending.
func (d *Dispatcher) awaitsAnnouncement(res *delivery) bool {
	ep := res.n.Alert.episode()
	for _, lv := range d.live {
		if lv.n.Kind != KindResolved && !lv.finished && lv.n.Recipient == res.n.Recipient && lv.n.Alert.episode() == ep {
			return true
		}
	}
	return false
}
