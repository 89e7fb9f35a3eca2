package report

import (
	"fmt"
	"html/template"
	"strings"
)

// series is one line of a chart: daily percentages, ok false = no data.
type series struct {
	name   string
	color  string
	values []float64
	ok     []bool
}

// Chart geometry in SVG user units; the page scales it to its width.
const (
	chartW, chartH = 720, 220
	padL, padR     = 40, 10
	padT, padB     = 10, 40
)

// lineChart draws daily percentages (0-100) as lines with a legend. Days
// without data break the line instead of dropping to zero.
func lineChart(title string, days []string, ss []series) template.HTML {
	var b strings.Builder
	plotW := float64(chartW - padL - padR)
	plotH := float64(chartH - padT - padB)
	x := func(i int) float64 {
		if len(days) <= 1 {
			return padL
		}
		return padL + plotW*float64(i)/float64(len(days)-1)
	}
	y := func(v float64) float64 { return padT + plotH*(1-v/100) }
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartW, chartH, template.HTMLEscapeString(title))
	for _, g := range []float64{0, 25, 50, 75, 100} {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" font-size="10" text-anchor="end" fill="#666">%.0f%%</text>`,
			padL, chartW-padR, y(g), y(g), padL-4, y(g)+3, g)
	}
	for i, d := range days {
		if len(days) > 10 && i%2 == 1 {
			continue // every other label when crowded
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" text-anchor="middle" fill="#666">%s</text>`, x(i), chartH-padB+14, d)
	}
	for si, s := range ss {
		var path strings.Builder
		pen := false
		for i, v := range s.values {
			if !s.ok[i] {
				pen = false
				continue
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, x(i), y(v))
			pen = true
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.TrimSpace(path.String()), s.color)
		for i, v := range s.values {
			if s.ok[i] {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, x(i), y(v), s.color)
			}
		}
		lx := padL + si*130
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" font-size="11">%s</text>`,
			lx, chartH-14, s.color, lx+14, chartH-5, template.HTMLEscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from numbers and escaped names only
}

// barChart draws one value per facility as horizontal bars (0-100 %).
func barChart(title string, labels []string, values []float64, ok []bool) template.HTML {
	const rowH, labelW, w = 22, 120, 720
	h := rowH*len(labels) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(title))
	for i, l := range labels {
		yy := 5 + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="end">%s</text>`, labelW-6, yy+14, template.HTMLEscapeString(l))
		if !ok[i] {
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#999">无数据</text>`, labelW, yy+14)
			continue
		}
		bw := float64(w-labelW-60) * values[i] / 100
		color := "#2e7d32"
		switch {
		case values[i] < 80:
			color = "#c62828"
		case values[i] < 95:
			color = "#ef6c00"
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/><text x="%.1f" y="%d" font-size="11">%.1f%%</text>`,
			labelW, yy+2, bw, rowH-6, color, float64(labelW)+bw+4, yy+14, values[i])
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
