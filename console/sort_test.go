package console

import (
	"slices"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// TestSortAlertsIsTotal: alerts fired at the same instant come out in one
// order whatever order the owners listed them in.
func TestSortAlertsIsTotal(t *testing.T) {
	at := time.Date(2026, 11, 30, 17, 46, 0, 0, time.UTC)
	row := func(fac, fp, state string, fired time.Time) alertRow {
		return alertRow{AlertView: model.AlertView{Facility: fac, Fingerprint: fp, State: state, FiredAt: fired}}
	}
	want := []alertRow{
		row("f1", "aa", "firing", at.Add(-time.Minute)),
		row("f1", "bb", "firing", at), row("f1", "cc", "firing", at), row("f2", "aa", "firing", at),
		row("f2", "dd", "acknowledged", at.Add(time.Minute)),
		row("f1", "ee", "acknowledged", at), row("f2", "ee", "acknowledged", at),
	}
	key := func(rs []alertRow) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Facility+"/"+r.Fingerprint)
		}
		return out
	}
	got := slices.Clone(want)
	for i := range len(got) * 3 { // a fixed series of rotations and swaps
		j := (i*5 + 3) % len(got)
		got[0], got[j] = got[j], got[0]
		sortAlerts(got)
		if !slices.Equal(key(got), key(want)) {
			t.Fatalf("order %v, want %v", key(got), key(want))
		}
		slices.Reverse(got)
	}
}
