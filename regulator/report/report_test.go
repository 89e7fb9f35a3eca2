package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/regulator/internal/seed"
)

func TestLevel(t *testing.T) {
	for _, tc := range []struct{ code, want string }{
		{"110000", "province"}, {"110100", "city"}, {"110105", "county"}, {"110105001", "street"},
		{"1101", ""}, {"11010a", ""}, {"", ""},
	} {
		got, err := Level(tc.code)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("Level(%q) = %q, %v; want %q", tc.code, got, err, tc.want)
		}
	}
}

func FuzzLevel(f *testing.F) {
	for _, s := range []string{"110105", "110105001", "110000", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		level, err := Level(code)
		if err == nil && len(code) != 6 && len(code) != 9 {
			t.Fatalf("Level(%q) = %q accepted", code, level)
		}
	})
}

// fakeQuerier answers every query with the fixture's series.
type fakeQuerier struct{ series []influxql.Series }

func (f fakeQuerier) Query(context.Context, string) ([]influxql.Series, error) { return f.series, nil }

// TestReportGolden renders a two-facility month into testdata/*.golden;
// set CW_UPDATE_GOLDEN=1 to rewrite them after an intended change.
func TestReportGolden(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	month := time.Date(2026, 6, 1, 0, 0, 0, 0, loc)
	cols := []string{"time", "facility", "county", "open_minutes", "data_minutes", "co2_minutes", "co2_ok_minutes", "camera_minutes", "camera_online_minutes", "alerts_fired", "acknowledged", "ack_seconds_sum"}
	row := func(h time.Time, fac string, open, data, co2ok float64) []any {
		return []any{float64(h.UnixMilli()), fac, "110105", open, data, open, co2ok, open * 2, open * 2, 1.0, 1.0, 120.0}
	}
	q := fakeQuerier{series: []influxql.Series{{Name: "compliance_hourly", Columns: cols, Values: [][]any{
		row(month.Add(8*time.Hour), "fac-1", 60, 60, 30),
		row(month.Add(24*time.Hour+9*time.Hour), "fac-1", 60, 50, 60),
		row(month.Add(9*time.Hour), "fac-2", 60, 60, 60),
	}}}}
	rep, err := Build(context.Background(), q, seed.Rules(t), "110105", month, loc)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Totals["open_minutes"]; got != 180 {
		t.Errorf("open minutes %v, want 180", got)
	}
	if v, _ := rep.Facilities[0].Totals.Ratio("co2_ok_minutes", "co2_minutes"); v != 75 {
		t.Errorf("fac-1 CO2 ratio %v, want 75", v)
	}
	if len(rep.Days) != 30 || rep.Days[1].Totals["open_minutes"] != 60 {
		t.Errorf("days %d, day 2 open %v", len(rep.Days), rep.Days[1].Totals["open_minutes"])
	}
	var csvOut, htmlOut bytes.Buffer
	if err := rep.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(&htmlOut); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(htmlOut.String(), "<script") || strings.Contains(htmlOut.String(), "http://") && !strings.Contains(htmlOut.String(), `xmlns="http://www.w3.org/2000/svg"`) {
		t.Error("report must be self-contained")
	}
	for name, got := range map[string][]byte{"report.csv.golden": csvOut.Bytes(), "report.html.golden": htmlOut.Bytes()} {
		path := filepath.Join("testdata", name)
		if os.Getenv("CW_UPDATE_GOLDEN") == "1" {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (create with CW_UPDATE_GOLDEN=1)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs (CW_UPDATE_GOLDEN=1 to rewrite after an intended change)", name)
		}
	}
}

// TestLimitsTextFollowsTheRuleSet: the report states the limits the
// rollup applied, from the rule set, per season and room type; a changed
// rule changes the text.
func TestLimitsTextFollowsTheRuleSet(t *testing.T) {
	b, err := os.ReadFile("../../configs/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Parse("rules.yaml", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	text := LimitsText(rs)
	for _, want := range []string{"GB/T 18883-2022", "温度：采暖季 16–24℃，制冷季 22–28℃，过渡季 16–28℃", "乳儿班：采暖季 20–26℃",
		"厨房、户外：不判定", "二氧化碳：≤ 1000 ppm", "甲醛：≤ 0.08 mg/m³，告警按1小时均值判定"} {
		if !strings.Contains(text, want) {
			t.Errorf("limits text lacks %q:\n%s", want, text)
		}
	}
	changed := strings.Replace(string(b), "    max: 1000\n    clear_max: 950\n", "    max: 900\n    clear_max: 850\n", 1)
	if rs, err = rules.Parse("changed", []byte(changed), nil); err != nil {
		t.Fatal(err)
	}
	if text := LimitsText(rs); !strings.Contains(text, "二氧化碳：≤ 900 ppm") {
		t.Errorf("after the change:\n%s", text)
	}
}
