package state

import (
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
)

// TestHistory: an alert's history spans history.jsonl (before the last
// open) and the wal (since), holds transitions and receipts in order, and
// keeps the newest entries when limited.
func TestHistory(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 5, 12, 22, 0, 0, 0, time.UTC)
	tr := func(fp string, to rules.State, m int) rules.Transition {
		return rules.Transition{Alert: rules.Alert{Fingerprint: fp, Rule: "door_open_after_hours", Facility: "F1"},
			To: to, At: at.Add(time.Duration(m) * time.Minute), Notify: to == rules.Firing}
	}
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	first := tr("aaaa", rules.Firing, 0)
	if err := s.Append(first, tr("bbbb", rules.Firing, 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkNotified(first); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reopening moves the wal into history.jsonl.
	if s, err = Open(Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Append(tr("aaaa", rules.Acknowledged, 1), tr("aaaa", rules.Resolved, 2)); err != nil {
		t.Fatal(err)
	}
	got, truncated, err := History(dir, "aaaa", 0)
	if err != nil || truncated {
		t.Fatal(err, truncated)
	}
	want := []struct {
		to       rules.State
		notified bool
	}{{rules.Firing, false}, {rules.Firing, true}, {rules.Acknowledged, false}, {rules.Resolved, false}}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Transition.To != w.to || got[i].Notified != w.notified || got[i].Transition.Alert.Fingerprint != "aaaa" {
			t.Errorf("entry %d: %+v, want %v notified=%v", i, got[i], w.to, w.notified)
		}
	}
	last, truncated, err := History(dir, "aaaa", 2)
	if err != nil || !truncated || len(last) != 2 || last[1].Transition.To != rules.Resolved {
		t.Fatalf("limited to 2: %+v truncated=%v err=%v", last, truncated, err)
	}
	if none, _, err := History(dir, "cccc", 10); err != nil || len(none) != 0 {
		t.Fatalf("unknown alert: %+v %v", none, err)
	}
}
