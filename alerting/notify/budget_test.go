package notify

import (
	"testing"
	"time"
)

// TestBudgetWindowIsPerContent: the short window limits the same content
// to one number (Tencent: once per 30 s); a firing notice and its
// resolution a few seconds later are both sent. The daily limit counts all.
func TestBudgetWindowIsPerContent(t *testing.T) {
	b := newBudget(BudgetConfig{PerDay: 3, PerWindow: 1, Window: 30 * time.Second})
	f := func(content string, at time.Duration, want bool) {
		t.Helper()
		now := t0.Add(at)
		if got := b.allow("p1", content, now); got != want {
			t.Fatalf("allow(%s at %s) = %v, want %v", content, at, got, want)
		}
		if want {
			b.spend("p1", content, now)
		}
	}
	f("firing", 0, true)
	f("firing", 10*time.Second, false) // same content within the window
	f("resolved", 10*time.Second, true)
	f("firing", 31*time.Second, true)
	f("other", 40*time.Second, false) // the day's three are spent
}
