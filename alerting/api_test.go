package alerting

import (
	"testing"

	"github.com/cradlewatch/cradlewatch/model"
)

func TestRegionFilter(t *testing.T) {
	// Each code covers the street codes with its prefix ("" the country).
	for code, want := range map[string]string{
		"": "", "110000": "11", "110100": "1101", "110105": "110105", "110110": "110110", "110105001": "110105001",
	} {
		got, ok := regionFilter(code)
		if !ok || got.Prefix() != want {
			t.Errorf("regionFilter(%q) = %q, %v; want prefix %q", code, got.Prefix(), ok, want)
		}
		street := model.Region(want + "000000000"[len(want):])
		if !got.Contains(street) {
			t.Errorf("regionFilter(%q) does not contain %s", code, street)
		}
	}
	for _, bad := range []string{"11", "1101051", "11010x", "1101050011"} {
		if _, ok := regionFilter(bad); ok {
			t.Errorf("regionFilter(%q) accepted", bad)
		}
	}
}
