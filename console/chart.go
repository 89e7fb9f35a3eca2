package console

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// Chart geometry in SVG user units; the page scales it to its width.
const (
	rcW, rcH   = 720, 260
	rcL, rcR   = 48, 10
	rcT, rcB   = 10, 30
	rcMaxTicks = 6
)

// roomChart draws a room's series as a line over the band the rule set
// allows at each moment (shaded; breaks where no rule judges), with
// points outside the band marked. Everything in it is numbers and escaped
// text: no script, no style attribute (the console's CSP).
func roomChart(title string, pts []point, from, to time.Time, every time.Duration, band func(time.Time) (lo, hi float64, judged bool)) template.HTML {
	// The y range covers the data and the finite band edges.
	lo, hi := math.Inf(1), math.Inf(-1)
	widen := func(v float64) {
		if !math.IsInf(v, 0) && !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	for _, p := range pts {
		widen(p.Value)
	}
	type step struct {
		t      time.Time
		lo, hi float64
		ok     bool
	}
	var steps []step
	for t := from; t.Before(to); t = t.Add(every) {
		l, h, ok := band(t)
		steps = append(steps, step{t, l, h, ok})
		if ok {
			widen(l)
			widen(h)
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-1, hi+1
	}
	pad := (hi - lo) * 0.08
	lo, hi = lo-pad, hi+pad
	plotW, plotH := float64(rcW-rcL-rcR), float64(rcH-rcT-rcB)
	span := to.Sub(from).Seconds()
	x := func(t time.Time) float64 { return rcL + plotW*t.Sub(from).Seconds()/span }
	y := func(v float64) float64 {
		v = math.Max(lo, math.Min(hi, v))
		return rcT + plotH*(1-(v-lo)/(hi-lo))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s" class="chart">`, rcW, rcH, template.HTMLEscapeString(title))
	// Band: one rectangle per step where a rule judges.
	for i, s := range steps {
		if !s.ok {
			continue
		}
		end := to
		if i+1 < len(steps) {
			end = steps[i+1].t
		}
		top, bot := y(s.hi), y(s.lo)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#c8e6c9"/>`, x(s.t), top, math.Max(x(end)-x(s.t), 0.5), math.Max(bot-top, 0))
	}
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" font-size="10" text-anchor="end" fill="#555">%s</text>`,
			rcL, rcW-rcR, y(v), y(v), rcL-4, y(v)+3, formatNum(math.Round(v*10)/10))
	}
	for i := 0; i <= rcMaxTicks; i++ {
		t := from.Add(time.Duration(float64(to.Sub(from)) * float64(i) / rcMaxTicks))
		layout := "15:04"
		if to.Sub(from) > 48*time.Hour {
			layout = "1/2"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" text-anchor="middle" fill="#555">%s</text>`, x(t), rcH-rcB+14, t.In(zone).Format(layout))
	}
	var path strings.Builder
	var prev time.Time
	for i, p := range pts {
		cmd := "L"
		if i == 0 || p.At.Sub(prev) > 3*every {
			cmd = "M" // a gap in the data breaks the line
		}
		fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, x(p.At), y(p.Value))
		prev = p.At
	}
	if path.Len() > 0 {
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="#1565c0" stroke-width="2"/>`, strings.TrimSpace(path.String()))
	}
	for _, p := range pts {
		if l, h, ok := band(p.At); ok && (p.Value < l || p.Value > h) {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="#c62828"/>`, x(p.At), y(p.Value))
		}
	}
	if len(pts) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="14" text-anchor="middle" fill="#999">无数据</text>`, rcW/2, rcH/2)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // numbers and escaped text only
}
