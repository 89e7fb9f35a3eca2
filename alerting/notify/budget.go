package notify

import "time"

// budget keeps each number's SMS allowance: at most PerDay in any 24 h
// (a rolling window is never looser than the providers' calendar day) and
// PerWindow within Window. It is rebuilt from the notification log at
// start, so a restart does not reset it.
type budget struct {
	cfg       BudgetConfig
	sent      map[string][]time.Time // phone key → send times within the last 24 h
	exhausted map[string]time.Time   // phone key → provider refused until
}

const budgetDay = 24 * time.Hour

func newBudget(cfg BudgetConfig) *budget {
	return &budget{cfg: cfg, sent: map[string][]time.Time{}, exhausted: map[string]time.Time{}}
}

// allow reports whether one more SMS to key fits at now.
func (b *budget) allow(key string, now time.Time) bool {
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
		for _, t := range ts {
			if now.Sub(t) < b.cfg.Window {
				n++
			}
		}
		if n >= b.cfg.PerWindow {
			return false
		}
	}
	return true
}

// spend records one SMS to key at t.
func (b *budget) spend(key string, t time.Time) {
	b.sent[key] = append(b.prune(key, t), t)
}

// exhaust records the provider's refusal: fallback until t+ExhaustedFor.
func (b *budget) exhaust(key string, t time.Time) {
	b.exhausted[key] = t.Add(b.cfg.ExhaustedFor)
}

func (b *budget) prune(key string, now time.Time) []time.Time {
	ts := b.sent[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= budgetDay {
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

// replay rebuilds the budget from a log entry.
func (b *budget) replay(e LogEntry) {
	if e.PhoneKey == "" {
		return
	}
	switch e.Outcome {
	case OutcomeSent:
		if e.Channel == ChannelSMS {
			b.sent[e.PhoneKey] = append(b.sent[e.PhoneKey], e.At)
		}
	case OutcomeExhausted:
		b.exhaust(e.PhoneKey, e.At)
	}
}
