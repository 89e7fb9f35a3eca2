package dashboards

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cradlewatch/cradlewatch/regulator/internal/seed"
)

// committedDir is where the generated JSON is committed, relative to this
// package. Regenerate with: go run ./cmd/cwreport dashboards -out deploy/grafana/dashboards
var committedDir = filepath.Join("..", "..", "deploy", "grafana", "dashboards")

func TestCommittedDashboardsMatchGenerator(t *testing.T) {
	files, err := Render(seed.Rules(t))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := filepath.Glob(filepath.Join(committedDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) != len(files) {
		t.Errorf("%d committed dashboards, generator makes %d: regenerate with go run ./cmd/cwreport dashboards", len(committed), len(files))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(committedDir, name))
		if err != nil {
			t.Errorf("%s: %v (regenerate with go run ./cmd/cwreport dashboards)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output: regenerate with go run ./cmd/cwreport dashboards -out deploy/grafana/dashboards", name)
		}
	}
}

func TestDashboardsShape(t *testing.T) {
	files, err := Render(seed.Rules(t))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	uids := map[string]bool{}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var d struct {
				UID        string `json:"uid"`
				Templating struct {
					List []struct {
						Name  string `json:"name"`
						Query string `json:"query"`
					} `json:"list"`
				} `json:"templating"`
				Panels []struct {
					Title      string `json:"title"`
					Datasource struct {
						UID string `json:"uid"`
					} `json:"datasource"`
					Targets []map[string]any `json:"targets"`
				} `json:"panels"`
			}
			if err := json.Unmarshal(files[name], &d); err != nil {
				t.Fatal(err)
			}
			if d.UID == "" || uids[d.UID] {
				t.Errorf("uid %q empty or used twice", d.UID)
			}
			uids[d.UID] = true
			var vars []string
			for i, v := range d.Templating.List {
				vars = append(vars, v.Name)
				// Each region variable is limited by its parent.
				if i > 0 && i < len(regionLevels) && !strings.Contains(v.Query, "$"+regionLevels[i-1].name) {
					t.Errorf("variable %s is not chained to %s: %s", v.Name, regionLevels[i-1].name, v.Query)
				}
			}
			if got := strings.Join(vars[:len(regionLevels)], ","); got != "province,city,county,street,facility" {
				t.Errorf("variables %s", got)
			}
			for _, p := range d.Panels {
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
				for _, tg := range p.Targets {
					q, _ := tg["query"].(string)
					if p.Datasource.UID == InfluxUID && (!strings.Contains(q, "$timeFilter") && !strings.HasPrefix(q, "SHOW")) {
						t.Errorf("panel %q query is not limited to the time range: %s", p.Title, q)
					}
				}
			}
		})
	}
}
