package notify

import "time"

// budget keeps each number's SMS allowance: at most PerDay in any 24 h
// (a rolling window is never looser than the providers' calendar day) and
// PerWindow messages of the same content within Window (Tencent's limit is
// on the same content: a firing notice and its resolution 10 s later are
// different messages and both go out). It is rebuilt from the notification
// log at start, so a restart does not reset it.
type budget struct {
	cfg       BudgetConfig
	sent      map[string][]sendRec // phone key → sends within the last 24 h
	exhausted map[string]time.Time // phone key → provider refused until
}

// sendRec is one SMS sent: when, and a key of its content.
type sendRec struct {
	at      time.Time
	content string
}

const budgetDay = 24 * time.Hour

func newBudget(cfg BudgetConfig) *budget {
	return &budget{cfg: cfg, sent: map[string][]sendRec{}, exhausted: map[string]time.Time{}}
}

// allow reports whether one more SMS of the given content to key fits at now.
func (b *budget) allow(key, content string, now time.Time) bool {
	if until, ok := b.exhausted[key]; ok {
		if now.Before(until) {
			return false
		}
		delete(b.exhausted, key)
	}
	ts := b.prune(key, now)
	if b.cfg.PerDay > 0 && len(ts) >= b.cfg.PerDay {
		return false
	}
	if b.cfg.PerWindow > 0 {
		n := 0
		for _, r := range ts {
			if r.content == content && now.Sub(r.at) < b.cfg.Window {
				n++
			}
		}
		if n >= b.cfg.PerWindow {
			return false
		}
	}
	return true
}

// spend records one SMS of the given content to key at t.
func (b *budget) spend(key, content string, t time.Time) {
	b.sent[key] = append(b.prune(key, t), sendRec{at: t, content: content})
}

// exhaust records the provider's refusal: fallback until t+ExhaustedFor.
func (b *budget) exhaust(key string, t time.Time) {
	b.exhausted[key] = t.Add(b.cfg.ExhaustedFor)
}

func (b *budget) prune(key string, now time.Time) []sendRec {
	ts := b.sent[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i].at) >= budgetDay {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(b.sent, key)
		return nil
	}
	b.sent[key] = ts
	return ts
}

// replay rebuilds the budget from one record of the notification log: an
// SMS sent counts once for the record (one message covers its entries).
func (b *budget) replay(es []LogEntry) {
	smsCounted := false
	for _, e := range es {
		if e.PhoneKey == "" {
			continue
		}
		switch {
		case e.Outcome == OutcomeSent && e.Channel == ChannelSMS && !smsCounted:
			b.sent[e.PhoneKey] = append(b.sent[e.PhoneKey], sendRec{at: e.At, content: e.Key})
			smsCounted = true
		case e.Outcome == OutcomeExhausted:
			b.exhaust(e.PhoneKey, e.At)
		}
	}
}
