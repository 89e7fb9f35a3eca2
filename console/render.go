package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/web"
	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/model"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/console.css
var consoleCSS []byte

// zone is the time zone pages show times in.
var zone = func() *time.Location {
	l, err := time.LoadLocation(calendar.DefaultZone)
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return l
}()

// pages holds one template set per page, each with the layout.
type pages struct {
	byName map[string]*template.Template
}

// Chinese names shown on pages.
var (
	kindLabels = map[model.Kind]string{
		model.KindTemperature: "温度", model.KindHumidity: "湿度", model.KindCO2: "二氧化碳", model.KindPM25: "PM2.5",
		model.KindPM10: "PM10", model.KindHCHO: "甲醛", model.KindTVOC: "TVOC", model.KindDoor: "门",
		model.KindWindow: "窗", model.KindCameraOnline: "摄像头在线", model.KindCameraRecording: "摄像头录像",
		model.KindCameraRetention: "录像保存天数", model.KindCameraLatency: "摄像头响应", model.KindBattery: "电量",
		model.KindLinkQuality: "信号", model.KindDeviceOnline: "设备在线", model.KindSmoke: "烟雾", model.KindGas: "燃气",
	}
	stateLabels = map[string]string{"pending": "待定", "firing": "告警中", "acknowledged": "已确认", "resolved": "已恢复", "inactive": "正常"}
	sevLabels   = map[string]string{"info": "提示", "warning": "警告", "critical": "严重"}
	roleLabels  = map[access.Role]string{access.RoleOperator: "机构", access.RoleStreet: "街道", access.RoleCounty: "区县卫健",
		access.RoleCity: "市卫健", access.RoleProvince: "省卫健", access.RoleAdmin: "平台管理员", access.RoleAuditor: "审计"}
	outcomeLabels = map[string]string{"pass": "合格", "rectify": "责令限期整改", "fail": "不合格", "closed": "未能检查"}
	sectionLabels = map[string]string{SectionRegistration: "备案信息", SectionCoverage: "监测覆盖", SectionCompliance: "月度达标情况",
		SectionAlerts: "安全告警处置", SectionInspections: "监督抽查结果"}
)

func kindLabel(k string) string {
	if kk, err := model.ParseKind(k); err == nil {
		if l, ok := kindLabels[kk]; ok {
			return l
		}
	}
	return k
}

func label(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return k
}

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.In(zone).Format("2006-01-02 15:04")
	},
	"clock": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.In(zone).Format("01-02 15:04")
	},
	"kind":     kindLabel,
	"state":    func(s string) string { return label(stateLabels, s) },
	"severity": func(s string) string { return label(sevLabels, s) },
	"outcome":  func(s string) string { return label(outcomeLabels, s) },
	"section":  func(s string) string { return label(sectionLabels, s) },
	"role":     func(r access.Role) string { return roleLabels[r] },
	"num":      formatNum,
	"pct": func(v float64, ok bool) string {
		if !ok {
			return "无数据"
		}
		return strconv.FormatFloat(v, 'f', 1, 64) + "%"
	},
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return ""
		}
		d := now.Sub(t)
		switch {
		case d < time.Minute:
			return "刚刚"
		case d < time.Hour:
			return fmt.Sprintf("%d 分钟前", int(d/time.Minute))
		case d < 48*time.Hour:
			return fmt.Sprintf("%d 小时前", int(d/time.Hour))
		}
		return fmt.Sprintf("%d 天前", int(d/(24*time.Hour)))
	},
	"list": func(v ...string) []string { return v },
	"query": func(kv ...string) template.URL {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		return template.URL(q.Encode())
	},
}

// formatNum prints a reading: integers plainly, others with up to two
// decimals.
func formatNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e9 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strings.TrimRight(strings.TrimRight(strconv.FormatFloat(v, 'f', 2, 64), "0"), ".")
}

func newPages() (*pages, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// view is what every page's template gets.
type view struct {
	Title string
	User  *access.Principal // nil on public pages
	Now   time.Time
	Flash string // a notice after an action
	Error string // what went wrong, for a person
	Data  any
}

// render writes page name with status. The page is rendered to a buffer
// first, so a template error is a clean 500.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t := c.pages.byName[name]
	if t == nil {
		web.Internal(w, r, c.log, fmt.Errorf("console: no template %q", name))
		return
	}
	v.Now = c.now()
	if p, ok := access.FromContext(r.Context()); ok {
		v.User = &p
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout.html", v); err != nil {
		web.Internal(w, r, c.log, fmt.Errorf("console: render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// message renders a short page with a title and a sentence.
func (c *Console) message(w http.ResponseWriter, r *http.Request, p *access.Principal, status int, title, text string) {
	c.render(w, r, status, "message", view{Title: title, Data: text})
}

// notFound is the one answer to a facility, alert or draw that does not
// exist or that the person may not see: the same page, the same status.
func (c *Console) notFound(w http.ResponseWriter, r *http.Request, p *access.Principal, reason string) {
	c.m.refused.WithLabelValues("not_found").Inc()
	c.message(w, r, p, http.StatusNotFound, "未找到", "没有找到该页面，或您无权查看。")
}

// badRequest answers a malformed form or parameter.
func (c *Console) badRequest(w http.ResponseWriter, r *http.Request, text string) {
	c.m.refused.WithLabelValues("bad_request").Inc()
	c.message(w, r, nil, http.StatusBadRequest, "请求有误", text)
}

// unavailable answers when a part the page needs (InfluxDB, the
// database) failed: the person sees a reference, the log the error.
func (c *Console) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	web.Internal(w, r, c.log, err)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
