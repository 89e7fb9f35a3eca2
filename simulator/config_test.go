package simulator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cradlewatch/cradlewatch/internal/config"
)

func TestConfigFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The example shipped in configs/ must load and resolve too.
	files = append(files, filepath.Join("..", "configs", "simulator.example.yaml"))
	wantKey := map[string]string{
		"unknown-key.bad.yaml":     "",
		"bad-start.bad.yaml":       "start",
		"bad-region.bad.yaml":      "region",
		"zero-facilities.bad.yaml": "facilities",
		"bad-duration.bad.yaml":    "",
		"bad-qos.bad.yaml":         "qos",
	}
	for _, path := range files {
		name := filepath.Base(path)
		if strings.HasPrefix(name, "facility") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			cfg, err := LoadConfig(path)
			if strings.HasSuffix(name, ".bad.yaml") {
				var ce *config.Error
				if !errors.As(err, &ce) || ce.File != path || ce.Key != wantKey[name] || ce.Reason == "" {
					t.Fatalf("err = %#v, want a config.Error on %s key %q", err, path, wantKey[name])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			opts, err := cfg.Options()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := New(opts); err != nil {
				t.Fatalf("New: %v", err)
			}
		})
	}
}

func TestConfigExampleDemoIncident(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("..", "configs", "simulator.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Incidents[0]
	if in.Type != IncidentCO2Climb || in.At.Seconds() != 5 || (in.At+in.Rise).Seconds() != 20 || in.Peak != 1600 {
		t.Errorf("demo incident %+v: want co2_climb at 5s reaching 1600 ppm at 20s", in)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"minimal.good.yaml", "full.good.yaml", "unknown-key.bad.yaml", "bad-duration.bad.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseConfig("fuzz.yaml", b)
		if err != nil {
			return
		}
		if cfg.Facilities > 50 {
			return // generating huge facility sets is not what is fuzzed here
		}
		opts, err := cfg.Options()
		if err != nil {
			return
		}
		opts.BrokerURL = "tcp://127.0.0.1:1"
		_, _ = New(opts) // must not panic
	})
}
