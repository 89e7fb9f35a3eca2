package setup_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/setup"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/prometheus/client_golang/prometheus"
)

type serviceConfig struct {
	Access setup.Config `mapstructure:"access"`
}

func (c *serviceConfig) Validate() error { return c.Access.Validate() }

// site writes a data dir, a secrets dir and a YAML configuration; edit
// changes the YAML before it is written.
func site(t *testing.T, edit func(string) string) (string, string, string) {
	t.Helper()
	data, secrets := t.TempDir(), t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(secrets, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	phone := write("phone.key", "Zq9wX2m8Lr5Tc1Vb7Nk3Hd6Jf0Gs4Pa2Ye8Ui5Oo")
	cb := write("aliyun.secret", "tQ8vZr3LmX0pW6yN2bK9sE4d")
	if _, err := audit.GenerateKey(filepath.Join(secrets, "anchor.key")); err != nil {
		t.Fatal(err)
	}
	yaml := `access:
  database:
    driver: sqlite
    path: ` + filepath.Join(data, "access.db") + `
  audit:
    chain: console-1
    spool_dir: ` + filepath.Join(data, "audit") + `
    anchor_key_file: ` + filepath.Join(secrets, "anchor.key") + `
  phone_key_file: ` + phone + `
  silences:
    cap: 72h
  http:
    trusted_proxies: [10.0.0.0/8]
`
	if edit != nil {
		yaml = edit(yaml)
	}
	path := filepath.Join(t.TempDir(), "console.yaml")
	os.WriteFile(path, []byte(yaml), 0o600)
	return path, data, cb
}

func load(t *testing.T, path string) (serviceConfig, error) {
	cfg := serviceConfig{Access: setup.Default()}
	err := config.Load(path, &cfg)
	return cfg, err
}

func TestOpenFromConfiguration(t *testing.T) {
	path, data, cbSecret := site(t, nil)
	cfg, err := load(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Access.Silences.Policy().Cap.Hours() != 72 || cfg.Access.Login.Account.Max != 5 {
		t.Fatalf("defaults or overrides lost: %+v", cfg.Access)
	}
	kit, err := setup.Open(context.Background(), cfg.Access, setup.Env{DataDirs: []string{data}, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer kit.Close()
	if _, err := kit.Guard("aliyun", "notify.callbacks.aliyun", setup.CallbackConfig{SecretFile: cbSecret, Allow: []string{"106.11.0.0/16"}}); err != nil {
		t.Fatal(err)
	}
	if kit.Pages == nil || kit.Pages == kit.Front {
		t.Fatal("no separate front for HTML pages")
	}
	if _, err := kit.Server("127.0.0.1:0", kit.Front.Private(nil)); err != nil {
		t.Fatal(err)
	}
	if err := kit.Audit.Anchor(context.Background()); err != nil {
		t.Fatal(err)
	}
	kit.Close()
	kit.Close()
}

func TestConfigurationMistakesNameTheKey(t *testing.T) {
	cases := []struct {
		name, key string
		edit      func(string) string
		atOpen    bool
	}{
		{"unknown driver", "access.database.driver", func(y string) string { return strings.Replace(y, "driver: sqlite", "driver: mysql", 1) }, false},
		{"no chain", "access.audit.chain", func(y string) string { return strings.Replace(y, "chain: console-1", "chain: \"\"", 1) }, false},
		{"bad proxy", "access.http.trusted_proxies", func(y string) string { return strings.Replace(y, "10.0.0.0/8", "10.0.0.1", 1) }, false},
		{"cap over its window", "access.silences", func(y string) string { return strings.Replace(y, "cap: 72h", "cap: 900h", 1) }, false},
		{"placeholder phone key", "access.phone_key_file", func(y string) string {
			p := filepath.Join(filepath.Dir(strings.Split(strings.Split(y, "phone_key_file: ")[1], "\n")[0]), "ph")
			os.WriteFile(p, []byte("CHANGE_ME"), 0o600)
			return strings.Replace(y, "phone.key", "ph", 1)
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, data, _ := site(t, c.edit)
			cfg, err := load(t, path)
			if !c.atOpen {
				var ce *config.Error
				if !errors.As(err, &ce) || ce.Key != c.key || ce.File != path {
					t.Fatalf("error %v, want key %s in %s", err, c.key, path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = setup.Open(context.Background(), cfg.Access, setup.Env{DataDirs: []string{data}})
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Key != c.key {
				t.Fatalf("error %v, want key %s", err, c.key)
			}
		})
	}
	t.Run("anchor key in the data directory", func(t *testing.T) {
		path, data, _ := site(t, nil)
		cfg, _ := load(t, path)
		inside := filepath.Join(data, "anchor.key")
		audit.GenerateKey(inside)
		cfg.Access.Audit.AnchorKeyFile = inside
		if _, err := setup.Open(context.Background(), cfg.Access, setup.Env{DataDirs: []string{data}}); err == nil || !strings.Contains(err.Error(), "anchor_key_file") {
			t.Fatalf("%v", err)
		}
	})
}
