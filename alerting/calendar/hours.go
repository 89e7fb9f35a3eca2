package calendar

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxSpans bounds the opening spans of one day; a facility with a lunch
// break has two.
const maxSpans = 4

// Span is an opening span within a local day, in minutes after midnight.
type Span struct{ From, To int } // [From, To)

// Hours are the opening spans per weekday (index time.Weekday).
type Hours [7][]Span

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseHours parses lines such as "mon-fri 07:30-18:00", "sat 08:00-12:00"
// or "mon,wed 07:30-11:30 13:30-17:30". Days not named are closed. A day
// range wraps the week ("sat-sun").
func ParseHours(lines []string) (Hours, error) {
	var h Hours
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) < 2 {
			return h, fmt.Errorf("hours[%d] %q: want \"<days> <hh:mm-hh:mm>...\"", i, line)
		}
		days, err := parseDays(f[0])
		if err != nil {
			return h, fmt.Errorf("hours[%d] %q: %w", i, line, err)
		}
		var spans []Span
		for _, s := range f[1:] {
			sp, err := parseSpan(s)
			if err != nil {
				return h, fmt.Errorf("hours[%d] %q: %w", i, line, err)
			}
			spans = append(spans, sp)
		}
		for _, d := range days {
			if len(h[d])+len(spans) > maxSpans {
				return h, fmt.Errorf("hours[%d] %q: more than %d spans on %s", i, line, maxSpans, d)
			}
			h[d] = append(h[d], spans...)
		}
	}
	return h, nil
}

func parseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	for _, part := range strings.Split(strings.ToLower(s), ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok := dayNames[a]
		if !ok {
			return nil, fmt.Errorf("unknown day %q (want mon, tue, ... sun)", a)
		}
		to := from
		if isRange {
			if to, ok = dayNames[b]; !ok {
				return nil, fmt.Errorf("unknown day %q (want mon, tue, ... sun)", b)
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == to {
				break
			}
		}
	}
	return out, nil
}

func parseSpan(s string) (Span, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Span{}, fmt.Errorf("span %q: want hh:mm-hh:mm", s)
	}
	from, err := parseClock(a)
	if err != nil {
		return Span{}, err
	}
	to, err := parseClock(b)
	if err != nil {
		return Span{}, err
	}
	if to <= from {
		return Span{}, fmt.Errorf("span %q ends before it starts", s)
	}
	return Span{from, to}, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh*60+mm > 24*60 {
		return 0, fmt.Errorf("time %q: want hh:mm between 00:00 and 24:00", s)
	}
	return hh*60 + mm, nil
}
