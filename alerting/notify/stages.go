package notify

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// finish records the final outcome of entries the stage handled, counts
// it and keeps the rest in n.
func (d *Dispatcher) finish(n *Notification, keep func(e Entry) bool, outcome, result, detail string) {
	now := d.clock.Now()
	kept := n.Entries[:0]
	var les []LogEntry
	for _, e := range n.Entries {
		if keep(e) {
			kept = append(kept, e)
			continue
		}
		e.d.finished = true
		d.metrics.notifications.WithLabelValues("none", result).Inc()
		if outcome != "" {
			les = append(les, d.logEntry(n, e, now, outcome, "", false, detail))
		}
	}
	d.record(les...)
	n.Entries = kept
}

// logEntry describes e's outcome for the notification log.
func (d *Dispatcher) logEntry(n *Notification, e Entry, at time.Time, outcome string, ch Channel, partial bool, detail string) LogEntry {
	le := LogEntry{At: at, Outcome: outcome, Key: e.Key, Episode: e.Alert.episode(), Kind: n.Kind, Alert: e.Alert.Fingerprint,
		Facility: e.Alert.Facility, Recipient: n.RecipientID, Channel: ch, Partial: partial, Detail: detail}
	if ch == ChannelSMS && outcome == OutcomeSent {
		le.PhoneKey = d.phones.Key(n.Recipient.Phone)
	}
	return le
}

// contactStage finishes notices whose recipient left the directory (the
// configuration changed while they were pending).
type contactStage struct{ d *Dispatcher }

func (s contactStage) Exec(_ context.Context, n *Notification) error {
	if len(n.Entries) > 0 {
		if _, ok := s.d.contact(n.RecipientID, n.Entries[0].Alert); ok {
			return nil
		}
	}
	s.d.logger.Warn("recipient no longer in the directory; notice dropped", "recipient", n.RecipientID, "kind", n.Kind)
	s.d.finish(n, func(Entry) bool { return false }, OutcomeGone, resultGone, "recipient not in the directory")
	return nil
}

// silenceStage drops entries of facilities in a maintenance window and
// records each one with the silence's author and reason.
type silenceStage struct{ d *Dispatcher }

func (s silenceStage) Exec(_ context.Context, n *Notification) error {
	now := s.d.clock.Now()
	for _, e := range slices.Clone(n.Entries) {
		sil, ok := s.d.silencedBy(e.Alert.Facility, now)
		if !ok {
			continue
		}
		s.d.finish(n, func(x Entry) bool { return x.Key != e.Key }, OutcomeSilenced, resultSilenced,
			sil.ID+" by "+sil.CreatedBy+": "+sil.Reason)
	}
	return nil
}

// dedupStage drops entries already finished, also across restarts, from
// the notification log.
type dedupStage struct{ d *Dispatcher }

func (s dedupStage) Exec(_ context.Context, n *Notification) error {
	s.d.finish(n, func(e Entry) bool { return !s.d.log.done(e.Key) }, "", resultDeduplicated, "")
	return nil
}

// announcedStage drops a resolution to a recipient who was never told of
// the alert (its notice was silenced, dead-lettered or cancelled): nobody
// gets "resolved" for something they did not hear of.
type announcedStage struct{ d *Dispatcher }

func (s announcedStage) Exec(_ context.Context, n *Notification) error {
	if n.Kind != KindResolved {
		return nil
	}
	s.d.finish(n, func(e Entry) bool { return s.d.log.told(e.Alert.episode(), n.RecipientID) }, OutcomeUnannounced,
		resultUnannounced, "the alert never reached this recipient")
	return nil
}

// planStage chooses the channels. A critical alert's firing and escalation
// notices go out on every channel the recipient has, SMS whatever its
// budget, and by voice call when the SMS does not go through (or always,
// with voice: always). Other notices go out on the first channel that
// works: SMS while the number has budget, then the configured fallbacks.
type planStage struct{ d *Dispatcher }

func (s planStage) Exec(_ context.Context, n *Notification) error {
	d, c := s.d, n.Recipient
	n.All = n.Severity == SeverityCritical && (n.Kind == KindFiring || n.Kind == KindEscalation)
	n.Channels = n.Channels[:0]
	sms := c.Has(ChannelSMS) && d.notifiers[ChannelSMS] != nil
	if sms {
		pk := d.phones.Key(c.Phone)
		critical := n.Severity == SeverityCritical && n.Kind != KindReminder
		if critical || d.budget.allow(pk, n.Entries[0].Key, d.clock.Now()) {
			n.Channels = append(n.Channels, ChannelSMS)
		} else {
			sms = false
			d.metrics.budgetExhausted.Inc()
			n.Fallback = true
			n.Failures = append(n.Failures, "sms: budget spent")
			d.logger.Info("sms budget spent, using fallback", "recipient", c)
		}
	}
	if n.All && s.wantsVoice(n, sms) {
		n.Channels = append(n.Channels, ChannelVoice)
	}
	for _, ch := range d.cfg.Fallback {
		if c.Has(ch) && d.notifiers[ch] != nil {
			n.Channels = append(n.Channels, ch)
		}
	}
	return nil
}

// wantsVoice: a call for a critical notice when configured always, when
// SMS is not possible, or when an SMS attempt of one of the entries
// failed (the call may be under way or being retried).
func (s planStage) wantsVoice(n *Notification, smsPlanned bool) bool {
	if !n.Recipient.Has(ChannelVoice) || s.d.notifiers[ChannelVoice] == nil {
		return false
	}
	if s.d.cfg.Voice == VoiceAlways || !smsPlanned {
		return true
	}
	return slices.ContainsFunc(n.Entries, func(e Entry) bool { return smsTrouble(e.d) || e.d.settled(ChannelVoice) })
}

// smsTrouble: an SMS attempt of the notice failed and it was not
// delivered since.
func smsTrouble(lv *delivery) bool {
	return !lv.sent[ChannelSMS] && (lv.failed[ChannelSMS] || lv.attempts[ChannelSMS] > 0)
}

// sendStage delivers on the planned channels, one attempt per channel and
// pass: a transient failure schedules the notice's next attempt (with
// exponential backoff and jitter) instead of holding the sender, so a
// critical alert never waits behind a retrying warning. Each delivery is
// recorded (fsynced) before the next is attempted.
type sendStage struct{ d *Dispatcher }

func (s sendStage) Exec(ctx context.Context, n *Notification) error {
	for i := 0; i < len(n.Channels); i++ {
		ch := n.Channels[i]
		var batch []Entry
		for _, e := range n.Entries {
			if s.needs(n, e.d, i) {
				batch = append(batch, e)
			}
		}
		if len(batch) == 0 {
			continue
		}
		err := s.deliver(ctx, n, ch, batch)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && ch == ChannelSMS && n.All {
			s.smsFailed(n, batch)
		}
	}
	return nil
}

// needs reports whether lv is to be sent on the i-th planned channel now.
func (s sendStage) needs(n *Notification, lv *delivery, i int) bool {
	ch := n.Channels[i]
	if lv.finished || lv.settled(ch) || lv.notBefore[ch].After(s.d.clock.Now()) {
		return false
	}
	if n.All {
		return true
	}
	if lv.anySent() {
		return false
	}
	for _, prev := range n.Channels[:i] {
		if !lv.failed[prev] {
			return false // an earlier channel is still being retried
		}
	}
	return true
}

// deliver makes one attempt on ch for the batch and records the outcome.
// On a channel whose provider can confirm what it took, entries in doubt
// are asked about first, and the attempt is recorded before it is made.
func (s sendStage) deliver(ctx context.Context, n *Notification, ch Channel, batch []Entry) error {
	d := s.d
	conf, confirms := confirmerOf(d.notifiers[ch])
	if confirms {
		if batch = s.confirm(ctx, n, ch, conf, batch); len(batch) == 0 {
			return nil
		}
	}
	alerts := make([]Alert, len(batch))
	for i, e := range batch {
		alerts[i] = e.Alert
	}
	m := Message{Key: batch[0].Key, Channel: ch, To: n.Recipient, Alerts: alerts}
	err := d.render.render(&m, n.Kind, n.Step, alerts, d.clock.Now())
	retry := false
	if err == nil {
		if confirms {
			s.attempting(n, ch, m.Key, batch)
		}
		retry, err = d.attempt(ctx, ch, m)
	}
	now := d.clock.Now()
	if err == nil {
		s.delivered(n, ch, batch, now, "")
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	if answered(err) {
		for _, e := range batch {
			delete(e.d.doubt, ch) // the provider said no: nothing to ask about
		}
	}
	budgetRefused := ch == ChannelSMS && errors.Is(err, ErrBudgetExhausted)
	if budgetRefused {
		pk := d.phones.Key(n.Recipient.Phone)
		d.budget.exhaust(pk, now)
		d.metrics.budgetExhausted.Inc()
		d.record(LogEntry{At: now, Outcome: OutcomeExhausted, PhoneKey: pk, Recipient: n.RecipientID, Channel: ch, Detail: err.Error()})
	}
	var les []LogEntry
	for _, e := range batch {
		e.d.attempts[ch]++
		if retry && !budgetRefused && e.d.attempts[ch] < d.cfg.Retry.MaxAttempts {
			e.d.notBefore[ch] = now.Add(d.backoff(e.d.attempts[ch]))
			continue
		}
		e.d.failed[ch] = true
		delete(e.d.doubt, ch)
		les = append(les, d.logEntry(n, e, now, OutcomeFailed, ch, true, err.Error()))
	}
	if len(les) < len(batch) {
		d.metrics.retries.WithLabelValues(string(ch)).Inc()
		d.logger.Warn("delivery failed, will retry", "channel", ch, "recipient", n.Recipient, "attempts", batch[0].d.attempts[ch], "err", err)
	}
	if len(les) > 0 {
		d.record(les...)
		d.metrics.notifications.WithLabelValues(string(ch), resultFailed).Inc()
		n.Failures = append(n.Failures, string(ch)+": "+err.Error())
		d.logger.Warn("delivery failed on this channel", "channel", ch, "recipient", n.Recipient, "err", err)
	}
	return err
}

// delivered records the batch as delivered on ch (detail says how it is
// known when not from the provider's answer just now).
func (s sendStage) delivered(n *Notification, ch Channel, batch []Entry, now time.Time, detail string) {
	d := s.d
	// A fallback: not the first choice of a notice that goes out on the
	// first channel that works, or a call because the SMS failed.
	fallback := (!n.All && (n.Fallback || ch != n.Channels[0])) || (ch == ChannelVoice && d.cfg.Voice != VoiceAlways)
	var les []LogEntry
	for _, e := range batch {
		e.d.sent[ch] = true
		delete(e.d.doubt, ch)
		done := e.d.complete(n.Channels, n.All)
		if done {
			e.d.finished = true
		}
		le := d.logEntry(n, e, now, OutcomeSent, ch, !done, detail)
		le.Fallback = fallback
		les = append(les, le)
	}
	d.record(les...)
	if ch == ChannelSMS {
		d.budget.spend(d.phones.Key(n.Recipient.Phone), batch[0].Key, now)
	}
	d.metrics.notifications.WithLabelValues(string(ch), resultSent).Inc()
	if fallback {
		d.metrics.fallbacks.WithLabelValues(string(ch)).Inc()
	}
	d.logger.Info("notified", "recipient", n.Recipient, "channel", ch, "kind", n.Kind, "step", n.Step,
		"severity", n.Severity, "alerts", len(batch), "fallback", fallback, "confirmed_after_doubt", detail != "")
}

// DetailConfirmed is the notification log's note on a delivery the
// provider confirmed instead of being sent again.
const DetailConfirmed = "confirmed by the provider: taken before a crash or a lost answer, not sent again"

// confirm asks the provider about the batch's entries in doubt on ch, one
// question per message key: those it has are recorded as delivered; the
// rest are returned, to be sent. A provider that cannot be asked leaves
// its entries to be sent again: a possible duplicate, never a lost alarm.
func (s sendStage) confirm(ctx context.Context, n *Notification, ch Channel, c Confirmer, batch []Entry) []Entry {
	d := s.d
	type answer struct {
		ok  bool
		err error
	}
	asked := map[string]answer{}
	var rest, confirmed []Entry
	for _, e := range batch {
		dt, ok := e.d.doubt[ch]
		if !ok {
			rest = append(rest, e)
			continue
		}
		a, seen := asked[dt.Ref]
		if !seen {
			actx, cancel := context.WithTimeout(ctx, d.cfg.Retry.AttemptTimeout)
			a.ok, a.err = c.Confirm(actx, Message{Key: dt.Ref, Channel: ch, Kind: n.Kind, To: n.Recipient}, dt.At)
			cancel()
			if ctx.Err() != nil {
				return nil // shutting down: still in doubt, asked again at the next start
			}
			asked[dt.Ref] = a
			result := doubtNotTaken
			switch {
			case a.err != nil:
				result = doubtUnknown
				d.logger.Warn("could not ask the provider about a delivery in doubt; sending it again",
					"channel", ch, "recipient", n.Recipient, "attempted", dt.At, "err", a.err)
			case a.ok:
				result = doubtConfirmed
			}
			d.metrics.inDoubt.WithLabelValues(string(ch), result).Inc()
		}
		if a.ok {
			confirmed = append(confirmed, e)
			continue
		}
		delete(e.d.doubt, ch)
		rest = append(rest, e)
	}
	if len(confirmed) > 0 {
		s.delivered(n, ch, confirmed, d.clock.Now(), DetailConfirmed)
	}
	return rest
}

// attempting records, fsynced, that the batch is about to be handed to
// the provider under key ref: after a crash before the answer is
// recorded, the provider is asked instead of the message sent blind. A
// failed write is counted and the message sent all the same.
func (s sendStage) attempting(n *Notification, ch Channel, ref string, batch []Entry) {
	d := s.d
	now := d.clock.Now()
	les := make([]LogEntry, 0, len(batch))
	for _, e := range batch {
		e.d.doubt[ch] = Doubt{Ref: ref, At: now}
		le := d.logEntry(n, e, now, OutcomeAttempt, ch, true, "")
		le.Ref = ref
		les = append(les, le)
	}
	if err := d.log.append(les...); err != nil {
		d.metrics.stateErrors.Inc()
		d.logger.Error("notification log write failed before an attempt; sending all the same", "err", err)
	}
}

// smsFailed: an SMS attempt of a critical notice did not go through
// (refused by the provider, over its limit, an outage). The recipient is
// called at once, while the SMS is retried; when the SMS has finally
// failed and it was the operator's first notice, the street office hears
// of the alert at once instead of at its escalation step.
func (s sendStage) smsFailed(n *Notification, batch []Entry) {
	if !slices.Contains(n.Channels, ChannelVoice) && n.Recipient.Has(ChannelVoice) && s.d.notifiers[ChannelVoice] != nil &&
		slices.ContainsFunc(batch, func(e Entry) bool { return smsTrouble(e.d) }) {
		i := slices.Index(n.Channels, ChannelSMS)
		n.Channels = slices.Insert(n.Channels, i+1, ChannelVoice)
	}
	if n.Kind != KindFiring {
		return
	}
	for _, e := range batch {
		if e.d.failed[ChannelSMS] && e.Target == TargetOperator {
			s.d.expedite(e.Alert)
		}
	}
}

// attempt makes one delivery attempt on ch, bounded by attempt_timeout.
func (d *Dispatcher) attempt(ctx context.Context, ch Channel, m Message) (bool, error) {
	nt := d.notifiers[ch]
	actx, cancel := context.WithTimeout(ctx, d.cfg.Retry.AttemptTimeout)
	defer cancel()
	return nt.Notify(actx, m)
}

// backoff is the wait before attempt number attempts+1: the initial
// backoff doubled per attempt up to the maximum, half of it random (full
// jitter keeps many facilities' retries from hitting a recovering provider
// at the same instant).
func (d *Dispatcher) backoff(attempts int) time.Duration {
	b := d.cfg.Retry.InitialBackoff
	for i := 1; i < attempts && b < d.cfg.Retry.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.Retry.MaxBackoff)
	d.mu.Lock()
	defer d.mu.Unlock()
	return b/2 + time.Duration(d.rnd.Int64N(int64(b/2)+1))
}

// expedite brings the street office in at once for an alert whose
// operator's SMS failed.
func (d *Dispatcher) expedite(a Alert) {
	now := d.clock.Now()
	d.mu.Lock()
	due := d.esc.Expedite(a.Fingerprint, a.StartsAt)
	var err error
	if len(due) > 0 {
		err = d.commit(&outboxRecord{}, due, now)
	}
	d.mu.Unlock()
	if len(due) == 0 {
		return
	}
	d.metrics.expedited.Inc()
	d.logger.Warn("the operator's SMS of a critical alert did not go through: the street office is told now",
		"alert", a.Fingerprint, "facility", a.Facility)
	if err != nil {
		d.metrics.stateErrors.Inc()
		d.logger.Error("outbox write failed", "err", err)
	}
}

// recordStage writes the final outcome of every notice its channels are
// done with: sent, or a dead letter when every channel failed.
type recordStage struct{ d *Dispatcher }

func (s recordStage) Exec(_ context.Context, n *Notification) error {
	d := s.d
	now := d.clock.Now()
	var les []LogEntry
	dead := 0
	for _, e := range n.Entries {
		lv := e.d
		if lv.finished || !lv.complete(n.Channels, n.All) {
			continue
		}
		lv.finished = true
		outcome, ch := OutcomeDead, Channel("")
		for _, c := range channels {
			if lv.sent[c] {
				outcome, ch = OutcomeSent, c
				break
			}
		}
		if outcome == OutcomeDead {
			dead++
		}
		le := d.logEntry(n, e, now, outcome, ch, false, strings.Join(n.Failures, "; "))
		le.PhoneKey = "" // a summary: the SMS itself was recorded (and counted) when it went out
		les = append(les, le)
	}
	d.record(les...)
	if dead > 0 {
		d.metrics.deadLetters.Add(float64(dead))
		d.metrics.notifications.WithLabelValues("none", resultDead).Add(float64(dead))
		d.logger.Error("notification failed on every channel: dead letter", "recipient", n.Recipient,
			"kind", n.Kind, "alerts", dead, "channels", n.Channels, "failures", n.Failures)
	}
	return nil
}
