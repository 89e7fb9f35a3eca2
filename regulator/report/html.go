package report

import (
	"fmt"
	"html/template"
	"io"

	"github.com/cradlewatch/cradlewatch/model"
)

var levelNames = map[string]string{"province": "省", "city": "市", "county": "区县", "street": "街道/乡镇"}

type htmlCell struct {
	Text string
	Low  bool // below 80 %: printed in red
}

type htmlPage struct {
	Title, Region, Level, Month string
	Limits                      string
	Headers                     []string
	Rows                        [][]htmlCell
	Trend, Env, Cameras         template.HTML
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:12px;width:100%}th,td{border:1px solid #bbb;padding:3px 5px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}.low{color:#c62828;font-weight:bold}
svg{width:100%;height:auto}.note{font-size:12px;color:#555}
@media print{body{margin:0}h2{page-break-after:avoid}svg{page-break-inside:avoid}}
</style></head><body>
<h1>{{.Title}}</h1>
<p>{{.Level}}：{{.Region}}　统计月份：{{.Month}}</p>
<p class="note">口径：开放时段内按分钟统计。{{.Limits}}数据完整率 = 有数据的开放分钟 / 开放分钟。摄像头在线率 = 在线摄像头分钟 / 应在线摄像头分钟。</p>
<h2>每日趋势</h2>
{{.Trend}}
<h2>各机构环境综合达标率</h2>
{{.Env}}
<h2>各机构摄像头在线率</h2>
{{.Cameras}}
<h2>明细</h2>
<table><thead><tr>{{range .Headers}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr>{{range .}}<td{{if .Low}} class="low"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</tbody></table>
</body></html>
`))

// WriteHTML writes the printable page.
func (r *Report) WriteHTML(w io.Writer) error {
	p := htmlPage{
		Title:  fmt.Sprintf("托育机构安全监测月度合规报告（%s）", r.Month.Format("2006年1月")),
		Region: r.Region, Level: levelNames[r.Level], Month: r.Month.Format("2006-01"), Limits: r.Limits,
		Headers: []string{"机构"},
	}
	for _, c := range columns {
		p.Headers = append(p.Headers, c.title)
	}
	addRow := func(name string, t Totals) {
		row := []htmlCell{{Text: name}}
		for i, c := range columns {
			v, ok := c.value(t)
			isRatio := i >= 1 && i <= 9
			row = append(row, htmlCell{Text: format(v, ok), Low: isRatio && ok && v < 80})
		}
		p.Rows = append(p.Rows, row)
	}
	var labels []string
	var env, cam []float64
	var envOK, camOK []bool
	for _, f := range r.Facilities {
		addRow(f.Facility.ID, f.Totals)
		labels = append(labels, f.Facility.ID)
		v, ok := f.Totals.EnvRatio()
		env, envOK = append(env, v), append(envOK, ok)
		v, ok = f.Totals.Ratio(model.FieldCameraOnlineMinutes, model.FieldCameraMinutes)
		cam, camOK = append(cam, v), append(camOK, ok)
	}
	addRow("合计", r.Totals)

	days := make([]string, len(r.Days))
	trend := []series{
		{name: "环境综合达标率", color: "#1565c0"},
		{name: "数据完整率", color: "#2e7d32"},
		{name: "摄像头在线率", color: "#6a1b9a"},
		{name: "摄像头录像率", color: "#ef6c00"},
	}
	for i, d := range r.Days {
		days[i] = d.Date.Format("1/2")
		vals := [][2]any{}
		e, eok := d.Totals.EnvRatio()
		c, cok := d.Totals.Ratio(model.FieldDataMinutes, model.FieldOpenMinutes)
		o, ook := d.Totals.Ratio(model.FieldCameraOnlineMinutes, model.FieldCameraMinutes)
		rc, rok := d.Totals.Ratio(model.FieldCameraRecordingMinutes, model.FieldCameraMinutes)
		vals = append(vals, [2]any{e, eok}, [2]any{c, cok}, [2]any{o, ook}, [2]any{rc, rok})
		for si := range trend {
			trend[si].values = append(trend[si].values, vals[si][0].(float64))
			trend[si].ok = append(trend[si].ok, vals[si][1].(bool))
		}
	}
	p.Trend = lineChart("每日趋势", days, trend)
	p.Env = barChart("环境综合达标率", labels, env, envOK)
	p.Cameras = barChart("摄像头在线率", labels, cam, camOK)
	if err := page.Execute(w, p); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	return nil
}
