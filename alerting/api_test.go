package alerting

import "testing"

func TestRegionPrefix(t *testing.T) {
	for code, want := range map[string]string{
		"": "", "110000": "11", "110100": "1101", "110105": "110105", "110110": "110110", "110105001": "110105001",
	} {
		if got, ok := regionPrefix(code); !ok || got != want {
			t.Errorf("regionPrefix(%q) = %q, %v; want %q", code, got, ok, want)
		}
	}
	for _, bad := range []string{"11", "1101051", "11010x", "1101050011"} {
		if _, ok := regionPrefix(bad); ok {
			t.Errorf("regionPrefix(%q) accepted", bad)
		}
	}
}
