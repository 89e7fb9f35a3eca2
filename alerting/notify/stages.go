package notify

import (
	"context"
	"errors"
	"time"
)

// silenceStage drops entries of facilities in a maintenance window and
// records each one with the silence's author and reason.
type silenceStage struct{ d *Dispatcher }

func (s silenceStage) Exec(_ context.Context, n *Notification) error {
	now := s.d.clock.Now()
	kept := n.Entries[:0]
	for _, e := range n.Entries {
		sil, ok := s.d.silencedBy(e.Alert.Facility, now)
		if !ok {
			kept = append(kept, e)
			continue
		}
		s.d.metrics.notifications.WithLabelValues("none", resultSilenced).Inc()
		s.d.record(LogEntry{At: now, Outcome: OutcomeSilenced, Key: e.Key, Alert: e.Alert.Fingerprint,
			Facility: e.Alert.Facility, Recipient: recipientID(n.Recipient),
			Detail: sil.ID + " by " + sil.CreatedBy + ": " + sil.Reason})
	}
	n.Entries = kept
	return nil
}

// dedupStage drops entries already delivered (or dead-lettered) to this
// recipient, also across restarts, from the notification log.
type dedupStage struct{ d *Dispatcher }

func (s dedupStage) Exec(_ context.Context, n *Notification) error {
	kept := n.Entries[:0]
	for _, e := range n.Entries {
		if s.d.log.done(e.Key) {
			s.d.metrics.notifications.WithLabelValues("none", resultDeduplicated).Inc()
			continue
		}
		kept = append(kept, e)
	}
	n.Entries = kept
	return nil
}

// budgetStage chooses the channels to try: SMS while the number has budget,
// then the configured fallbacks the recipient can be reached on.
type budgetStage struct{ d *Dispatcher }

func (s budgetStage) Exec(_ context.Context, n *Notification) error {
	now := s.d.clock.Now()
	n.Channels = n.Channels[:0]
	if n.Recipient.Has(ChannelSMS) && s.d.notifiers[ChannelSMS] != nil {
		if s.d.budget.allow(phoneKey(n.Recipient.Phone), n.Entries[0].Key, now) {
			n.Channels = append(n.Channels, ChannelSMS)
		} else {
			s.d.metrics.budgetExhausted.Inc()
			n.Fallback = true
			n.Failures = append(n.Failures, "sms: budget spent")
			s.d.logger.Info("sms budget spent, using fallback", "recipient", n.Recipient)
		}
	}
	for _, ch := range s.d.cfg.Fallback {
		if n.Recipient.Has(ch) && s.d.notifiers[ch] != nil {
			n.Channels = append(n.Channels, ch)
		}
	}
	return nil
}

// sendStage renders and delivers on the first channel that works,
// retrying transient failures with exponential backoff and jitter.
type sendStage struct{ d *Dispatcher }

func (s sendStage) Exec(ctx context.Context, n *Notification) error {
	alerts := make([]Alert, len(n.Entries))
	for i, e := range n.Entries {
		alerts[i] = e.Alert
	}
	for i, ch := range n.Channels {
		m := Message{Key: n.Entries[0].Key, Channel: ch, To: n.Recipient, Alerts: alerts}
		if err := s.d.render.render(&m, n.Kind, n.Step, alerts); err != nil {
			return err // a template error is a configuration bug, not a delivery failure
		}
		err := s.d.deliver(ctx, ch, m)
		if err == nil {
			n.Delivered = ch
			n.Fallback = n.Fallback || i > 0
			if ch == ChannelSMS {
				s.d.budget.spend(phoneKey(n.Recipient.Phone), n.Entries[0].Key, s.d.clock.Now())
			}
			return nil
		}
		n.Failures = append(n.Failures, string(ch)+": "+err.Error())
		s.d.metrics.notifications.WithLabelValues(string(ch), resultFailed).Inc()
		if ch == ChannelSMS && errors.Is(err, ErrBudgetExhausted) {
			now := s.d.clock.Now()
			pk := phoneKey(n.Recipient.Phone)
			s.d.budget.exhaust(pk, now)
			s.d.metrics.budgetExhausted.Inc()
			s.d.record(LogEntry{At: now, Outcome: OutcomeExhausted, PhoneKey: pk, Recipient: recipientID(n.Recipient),
				Channel: ch, Detail: err.Error()})
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.d.logger.Warn("delivery failed, trying next channel", "channel", ch, "recipient", n.Recipient, "err", err)
	}
	return nil
}

// deliver sends m on ch with retries.
func (d *Dispatcher) deliver(ctx context.Context, ch Channel, m Message) error {
	nt := d.notifiers[ch]
	backoff := d.cfg.Retry.InitialBackoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, d.cfg.Retry.AttemptTimeout)
		retry, err := nt.Notify(actx, m)
		cancel()
		if err == nil {
			return nil
		}
		if !retry || errors.Is(err, ErrBudgetExhausted) || attempt >= d.cfg.Retry.MaxAttempts || ctx.Err() != nil {
			return err
		}
		d.metrics.retries.WithLabelValues(string(ch)).Inc()
		// Full jitter keeps many facilities' retries from hitting a
		// recovering provider at the same instant.
		wait := backoff/2 + d.jitter(backoff/2)
		d.logger.Debug("transient delivery failure, retrying", "channel", ch, "attempt", attempt, "wait", wait, "err", err)
		if err := d.clock.Sleep(ctx, wait); err != nil {
			return err
		}
		backoff = min(backoff*2, d.cfg.Retry.MaxBackoff)
	}
}

// jitter returns a random duration in [0, max]. d.rnd is shared with the
// escalator's ack codes, which run under d.mu, and is not safe for
// concurrent use.
func (d *Dispatcher) jitter(max time.Duration) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Duration(d.rnd.Int64N(int64(max) + 1))
}

// recordStage writes the outcome of every entry to the notification log
// and counts it; what failed on every channel becomes a dead letter.
type recordStage struct{ d *Dispatcher }

func (s recordStage) Exec(_ context.Context, n *Notification) error {
	now := s.d.clock.Now()
	outcome, ch := OutcomeSent, n.Delivered
	if n.Delivered == "" {
		outcome, ch = OutcomeDead, "none"
		s.d.metrics.deadLetters.Inc()
		s.d.metrics.notifications.WithLabelValues("none", resultDead).Inc()
		s.d.logger.Error("notification failed on every channel: dead letter", "recipient", n.Recipient,
			"kind", n.Kind, "alerts", len(n.Entries), "failures", n.Failures)
	} else {
		s.d.metrics.notifications.WithLabelValues(string(ch), resultSent).Inc()
		s.d.logger.Info("notified", "recipient", n.Recipient, "channel", ch, "kind", n.Kind, "step", n.Step,
			"alerts", len(n.Entries), "fallback", n.Fallback)
	}
	pk := ""
	if ch == ChannelSMS {
		pk = phoneKey(n.Recipient.Phone)
	}
	var detail string
	if len(n.Failures) > 0 {
		detail = joinFailures(n.Failures)
	}
	if ch == ChannelSMS {
		s.d.noteSMS(pk, n.Entries)
	}
	for i, e := range n.Entries {
		le := LogEntry{At: now, Outcome: outcome, Key: e.Key, Alert: e.Alert.Fingerprint, Facility: e.Alert.Facility,
			Recipient: recipientID(n.Recipient), Channel: ch, Fallback: n.Fallback, Detail: detail}
		if i == 0 {
			le.PhoneKey = pk // one SMS for the group: spend the budget once on replay
		}
		s.d.record(le)
	}
	return nil
}

func joinFailures(fs []string) string {
	out := ""
	for i, f := range fs {
		if i > 0 {
			out += "; "
		}
		out += f
	}
	return out
}

// noteSMS remembers which number was sent the entries' ack codes, so that
// only its replies acknowledge them. A failed save is counted and logged:
// the message already went out, and the HTTP ack still works.
func (d *Dispatcher) noteSMS(pk string, entries []Entry) {
	alerts := make([]Alert, len(entries))
	for i, e := range entries {
		alerts[i] = e.Alert
	}
	d.mu.Lock()
	err := d.esc.NoteSMS(pk, alerts)
	d.mu.Unlock()
	if err != nil {
		d.metrics.stateErrors.Inc()
		d.logger.Error("escalation state write failed", "err", err)
	}
}

// record appends to the notification log; a failed write is counted and
// logged, not fatal: the message already went out.
func (d *Dispatcher) record(e LogEntry) {
	if err := d.log.append(e); err != nil {
		d.metrics.stateErrors.Inc()
		d.logger.Error("notification log write failed", "err", err)
	}
}
