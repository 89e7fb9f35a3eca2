package dashboards

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cradlewatch/cradlewatch/regulator/internal/seed"
)

// TestDailyPanelsCutDaysInBeijing: a panel that groups by whole days says
// the zone, or InfluxDB cuts its days at UTC midnight, 08:00 in Beijing,
// and a day's bar holds the evening before and not its own evening.
func TestDailyPanelsCutDaysInBeijing(t *testing.T) {
	files, err := Render(seed.Rules(t))
	if err != nil {
		t.Fatal(err)
	}
	daily := 0
	for name, raw := range files {
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		for _, q := range queriesIn(doc) {
			if !strings.Contains(q, "time(1d)") {
				continue
			}
			daily++
			if !strings.HasSuffix(q, ` tz('Asia/Shanghai')`) {
				t.Errorf("%s: a daily query without the zone: %s", name, q)
			}
		}
	}
	if daily == 0 {
		t.Fatal("no daily panel found")
	}
}

// queriesIn collects every "query" string of a decoded dashboard.
func queriesIn(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "query" {
				out = append(out, s)
			} else {
				out = append(out, queriesIn(e)...)
			}
		}
	case []any:
		for _, e := range x {
			out = append(out, queriesIn(e)...)
		}
	}
	return out
}
