package dashboards

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/regulator/internal/seed"
)

// panelBands returns the threshold steps of each facility-detail panel.
func panelBands(t *testing.T, rs *rules.RuleSet) map[string][]*float64 {
	t.Helper()
	files, err := Render(rs)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title       string `json:"title"`
			FieldConfig struct {
				Defaults struct {
					Thresholds struct {
						Steps []struct {
							Value *float64 `json:"value"`
						} `json:"steps"`
					} `json:"thresholds"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(files["facility-detail.json"], &d); err != nil {
		t.Fatal(err)
	}
	out := map[string][]*float64{}
	for _, p := range d.Panels {
		for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
			out[p.Title] = append(out[p.Title], s.Value)
		}
	}
	return out
}

func values(vs []*float64) []float64 {
	var out []float64
	for _, v := range vs {
		if v != nil {
			out = append(out, *v)
		}
	}
	return out
}

// TestBandsComeFromTheRuleSet: the charts' bands are the rule set's, so a
// changed limit moves them; nothing in the dashboards restates a number.
func TestBandsComeFromTheRuleSet(t *testing.T) {
	bands := panelBands(t, seed.Rules(t))
	for title, want := range map[string][]float64{
		"温度 Temperature": {16, 28}, "相对湿度 Humidity": {30, 80}, "二氧化碳 CO2": {1000}, "PM2.5": {50}, "甲醛 HCHO": {0.08},
	} {
		if got := values(bands[title]); !slices.Equal(got, want) {
			t.Errorf("%s bands %v, want %v", title, got, want)
		}
	}
	b, err := os.ReadFile("../../configs/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(b), "    max: 1000\n    clear_max: 950\n", "    max: 900\n    clear_max: 850\n", 1)
	changed = strings.Replace(changed, "cooling: {min: 22, max: 28,", "cooling: {min: 22, max: 29,", 1)
	if changed == string(b) {
		t.Fatal("the co2_hourly and cooling limits were not found in rules.yaml")
	}
	rs, err := rules.Parse("changed", []byte(changed), nil)
	if err != nil {
		t.Fatal(err)
	}
	bands = panelBands(t, rs)
	if got := values(bands["二氧化碳 CO2"]); !slices.Equal(got, []float64{900}) {
		t.Errorf("co2 bands after the change %v, want [900]", got)
	}
	if got := values(bands["温度 Temperature"]); !slices.Equal(got, []float64{16, 29}) {
		t.Errorf("temperature bands after the change %v, want [16 29]", got)
	}
}

var (
	fromRE  = regexp.MustCompile(`FROM "([^"]+)"`)
	identRE = regexp.MustCompile(`"([a-z0-9_]+)"`)
)

// TestQueriesNameTheSchema: every measurement, tag and field a dashboard
// query names is one of model's schema (or a reading kind and its value),
// so a dashboard cannot drift from what the services write.
func TestQueriesNameTheSchema(t *testing.T) {
	known := map[string]bool{model.FieldValue: true}
	for _, tag := range model.ReadingTags() {
		known[tag] = true
	}
	for m, s := range model.Schema() {
		known[m] = true
		for _, n := range append(append([]string(nil), s.Tags...), s.Fields...) {
			known[n] = true
		}
	}
	for _, k := range model.Kinds() {
		known[k.String()] = true
	}
	files, err := Render(seed.Rules(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		var d any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		var queries []string
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, c := range x {
					if s, ok := c.(string); ok && (k == "query" || k == "definition") {
						queries = append(queries, s)
					}
					walk(c)
				}
			case []any:
				for _, c := range x {
					walk(c)
				}
			}
		}
		walk(d)
		if len(queries) < 5 {
			t.Fatalf("%s: only %d queries found", name, len(queries))
		}
		for _, q := range queries {
			if strings.Contains(q, "cw_") { // PromQL
				continue
			}
			for _, m := range fromRE.FindAllStringSubmatch(q, -1) {
				if !known[m[1]] {
					t.Errorf("%s: measurement %q is not in model's schema: %s", name, m[1], q)
				}
			}
			aliases := map[string]bool{}
			for _, m := range regexp.MustCompile(`AS "([^"]+)"`).FindAllStringSubmatch(q, -1) {
				aliases[m[1]] = true
			}
			for _, m := range identRE.FindAllStringSubmatch(q, -1) {
				if !known[m[1]] && !aliases[m[1]] {
					t.Errorf("%s: %q is not a measurement, tag or field of model's schema: %s", name, m[1], q)
				}
			}
		}
	}
}
