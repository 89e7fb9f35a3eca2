package calendar

import (
	"strings"
	"testing"
)

// FuzzParseHours: installer-written hours must never panic the service.
func FuzzParseHours(f *testing.F) {
	for _, s := range []string{"mon-fri 07:30-18:00", "sat 08:00-12:00", "sat-sun 00:00-24:00", "mon,wed 07:30-11:30 13:30-17:30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHours(strings.Split(s, "\n"))
		if err != nil {
			return
		}
		for _, spans := range h {
			if len(spans) > maxSpans {
				t.Fatalf("%q: %d spans", s, len(spans))
			}
			for _, sp := range spans {
				if sp.From >= sp.To || sp.From < 0 || sp.To > 24*60 {
					t.Fatalf("%q: bad span %+v", s, sp)
				}
			}
		}
	})
}

// FuzzParseHolidays: a yearly holiday file must never panic the service.
func FuzzParseHolidays(f *testing.F) {
	f.Add([]byte("year: 2026\nholidays:\n  - {name: 元旦, from: 2026-01-01, to: 2026-01-03, workdays: [2026-01-04]}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseHolidays("fuzz.yaml", b)
	})
}
