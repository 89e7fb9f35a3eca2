package console

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
)

// The shipped example loads with every key known and documented.
func TestExampleConfigLoads(t *testing.T) {
	cfg := DefaultConfig()
	if err := config.Load(filepath.Join("..", "configs", "console.example.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Ctl.Shards != 1 || cfg.Disclosure.HandledWithin != 30*time.Minute || cfg.SpotCheck.Parameters.Inspection.Cap != 365 {
		t.Fatalf("example differs from the defaults: %+v", cfg)
	}
}

func TestConfigMistakesNameTheKey(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "configs", "console.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ key, from, to string }{
		{"ops.listen", "listen: 127.0.0.1:9106", "listen: 0.0.0.0:9106"},
		{"ctl.shards", "shards: 1", "shards: 0"},
		{"ctl.read_timeout", "read_timeout: 3s", "read_timeout: 1m"},
		{"disclosure.sections", "sections: [registration, coverage", "sections: [registration, phones"},
		{"disclosure.regions.11x", "regions: {}", `regions: {"11x": [registration]}`},
		{"disclosure.months", "months: 12", "months: 0"},
		{"spotcheck.parameters", "out_of_limits: 2", "out_of_limits: -1"},
		{"region_names.1101", "region_names: {}", `region_names: {"1101": 北京}`},
		{"mqtt.client_id", "client_id: cw-console-0", `client_id: "a/b"`},
		{"http.public_url", `public_url: ""`, `public_url: "javascript:alert(1)"`},
		{"shortlink.key_file", "key_file: /etc/cradlewatch/secrets/shortlink.key", `key_file: ""`},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			if !strings.Contains(string(base), c.from) {
				t.Fatalf("example lacks %q", c.from)
			}
			p := filepath.Join(t.TempDir(), "console.yaml")
			os.WriteFile(p, []byte(strings.Replace(string(base), c.from, c.to, 1)), 0o600)
			cfg := DefaultConfig()
			err := config.Load(p, &cfg)
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Key != c.key || ce.File != p {
				t.Fatalf("got %v, want key %s in %s", err, c.key, p)
			}
		})
	}
}

func TestDisclosureSectionsByLongestPrefix(t *testing.T) {
	d := Disclosure{Sections: []string{SectionRegistration}, Regions: map[string][]string{
		"11": {SectionRegistration, SectionCoverage}, "110105": {}, "110105001": {SectionAlerts}}}
	for region, want := range map[model.Region][]string{
		"110105001": {SectionAlerts}, "110105002": {}, "110106001": {SectionRegistration, SectionCoverage}, "310101001": {SectionRegistration},
	} {
		if got := d.SectionsFor(region); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", region, got, want)
		}
	}
}

func TestChartIsScriptAndStyleFree(t *testing.T) {
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, zone)
	pts := []point{{from.Add(time.Hour), 900}, {from.Add(2 * time.Hour), 1600}, {from.Add(9 * time.Hour), 700}}
	svg := string(roomChart(`<script>"x"</script>`, pts, from, from.Add(12*time.Hour), time.Hour, func(t time.Time) (float64, float64, bool) {
		return 0, 1000, t.Hour() < 7
	}))
	for _, bad := range []string{"<script", "style=", `"x"`} {
		if strings.Contains(svg, bad) {
			t.Errorf("chart contains %q: %s", bad, svg)
		}
	}
	if strings.Count(svg, `fill="#c62828"`) != 1 || !strings.Contains(svg, "M") {
		t.Errorf("one point out of limits, a line: %s", svg)
	}
	if empty := string(roomChart("x", nil, from, from.Add(time.Hour), time.Minute, func(time.Time) (float64, float64, bool) { return 0, 0, false })); !strings.Contains(empty, "无数据") {
		t.Error("an empty chart does not say so")
	}
}

func TestStyleHashes(t *testing.T) {
	if got := styleHashes("<style>a{}</style><p><style>b{}</style>"); strings.Count(got, "'sha256-") != 2 {
		t.Errorf("%s", got)
	}
	if got := styleHashes("<p>none</p>"); got != "'none'" {
		t.Errorf("%s", got)
	}
}

// check-config reads the secrets: the example's do not exist here.
func TestCheckReadsTheSecrets(t *testing.T) {
	cfg := DefaultConfig()
	if err := config.Load(filepath.Join("..", "configs", "console.example.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	err := Check(cfg)
	var ce *config.Error
	if !errors.As(err, &ce) || !slices.Contains([]string{"shortlink.key_file", "ctl.secret_file", "access.phone_key_file"}, ce.Key) {
		t.Fatalf("Check: %v, want a missing secret named by its key", err)
	}
}

// The compose demo's and Kubernetes' console configurations load, each
// logging in to the broker as console-0 with client ID cw-console-0 (the
// account cwbroker writes; Kubernetes sets both per pod).
func TestDeployConfigsLoad(t *testing.T) {
	for _, f := range []string{"compose", "kubernetes"} {
		cfg := DefaultConfig()
		if err := config.Load(filepath.Join("..", "deploy", f, "config", "console.yaml"), &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.Callbacks.Aliyun.SecretFile == "" || cfg.Ctl.SecretFile == "" || cfg.MQTT.Username != "console-0" || cfg.MQTT.ClientID != "cw-console-0" {
			t.Fatalf("%s: %+v", f, cfg)
		}
	}
}
