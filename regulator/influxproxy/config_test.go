package influxproxy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/regulator/dashboards"
)

func TestConfigValidate(t *testing.T) {
	good := testConfig("http://127.0.0.1:8086")
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	cases := []struct {
		key    string
		mutate func(*Config)
	}{
		{"grafana_auth.password", func(c *Config) { c.GrafanaAuth.Password = "" }},
		{"grafana_auth.password", func(c *Config) { c.GrafanaAuth.Password = "short-one" }},
		{"grafana_auth.password", func(c *Config) { c.GrafanaAuth.Password = "change-me-influxproxy" }},
		{"grafana_auth.password", func(c *Config) { c.GrafanaAuth.Password = "CHANGE_ME_CHANGE_ME" }},
		{"grafana_auth.password", func(c *Config) { c.GrafanaAuth.Password = "${CW_GRAFANA_AUTH_PASSWORD}" }},
		{"grafana_auth.password", func(c *Config) { c.GrafanaAuth.Password = "my-long-password-1" }},
		{"grafana_auth.password", func(c *Config) {
			c.GrafanaAuth.User = "grafana-service-user"
			c.GrafanaAuth.Password = c.GrafanaAuth.User
		}},
		{"grafana_auth.user", func(c *Config) { c.GrafanaAuth.User = "" }},
		{"http.listen", func(c *Config) { c.HTTP.Listen = "0.0.0.0:9104" }},
		{"http.listen", func(c *Config) { c.HTTP.Listen = "10.1.2.3:9104" }},
		{"http.listen", func(c *Config) { c.HTTP.Listen = ":9104" }},
		{"listen", func(c *Config) { c.Listen = "8087" }},
		{"tls", func(c *Config) { c.TLS.CertFile = "cert.pem" }},
		{"database", func(c *Config) { c.Database = "" }},
		{"upstream.url", func(c *Config) { c.Upstream.URL = "127.0.0.1:8086" }},
		{"upstream.token", func(c *Config) { c.Upstream.Token, c.Upstream.Username = "t", "u" }},
		{"upstream.timeout", func(c *Config) { c.Upstream.Timeout = 0 }},
		{"users_file", func(c *Config) { c.UsersFile = "" }},
		{"users_source", func(c *Config) { c.UsersSource = "ldap" }},
		{"users_cache_ttl", func(c *Config) { c.UsersSource, c.UsersCacheTTL = UsersSourceAccess, 0 }},
		{"users_cache_ttl", func(c *Config) { c.UsersSource, c.UsersCacheTTL = UsersSourceAccess, time.Hour }},
		{"access.database.path", func(c *Config) { c.UsersSource = UsersSourceAccess }},
		{"access.database.driver", func(c *Config) { c.UsersSource, c.Access.Database.Driver = UsersSourceAccess, "mysql" }},
		{"extra_measurements", func(c *Config) { c.ExtraMeasurements = []string{""} }},
	}
	for _, tc := range cases {
		c := good
		tc.mutate(&c)
		err := c.Validate()
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Key != tc.key {
			t.Errorf("want an error on %s, got %v", tc.key, err)
		}
	}
	for _, ok := range []string{"127.0.0.1:9104", "[::1]:9104", "localhost:9104", ""} {
		c := good
		c.HTTP.Listen = ok
		if err := c.Validate(); err != nil {
			t.Errorf("http.listen %q: %v", ok, err)
		}
	}
}

func TestExampleConfig(t *testing.T) {
	cfg := DefaultConfig()
	t.Setenv("CW_GRAFANA_AUTH_PASSWORD", testSecret)
	path := filepath.Join("..", "..", "configs", "influxproxy.example.yaml")
	if err := config.Load(path, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.ExtraMeasurements) == 0 {
		cfg.ExtraMeasurements = nil // [] in the file, nil by default
	}
	if want := DefaultConfigWith(testSecret); !reflect.DeepEqual(cfg, want) {
		t.Errorf("the example differs from the defaults:\n%+v\n%+v", cfg, want)
	}
	if _, err := LoadUsersFile(filepath.Join("..", "..", cfg.UsersFile)); err != nil {
		t.Errorf("example users file: %v", err)
	}
	t.Setenv("CW_GRAFANA_AUTH_PASSWORD", "")
	cfg = DefaultConfig()
	err := config.Load(path, &cfg)
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key != "grafana_auth.password" || !strings.Contains(ce.File, "influxproxy.example.yaml") {
		t.Errorf("without the secret: %v", err)
	}
}

// DefaultConfigWith is DefaultConfig with the service password set.
func DefaultConfigWith(password string) Config {
	c := DefaultConfig()
	c.GrafanaAuth.Password = password
	return c
}

func TestUsersFile(t *testing.T) {
	f, err := LoadUsersFile(filepath.Join("testdata", "users.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for login, want := range map[string]model.RegionCode{
		"chaoyang-wjw":   model.MustRegionCode("110105"),
		"CHAOYANG-WJW":   model.MustRegionCode("110105"),
		"jianwai-street": model.MustRegionCode("110105001"),
		"beijing-wjw":    model.MustRegionCode("110000"),
		"platform-admin": model.Nationwide(),
	} {
		got, err := f.Region(context.Background(), login)
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", login, got, err, want)
		}
	}
	if _, err := f.Region(context.Background(), "nobody"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("unknown login: %v", err)
	}
	bad := map[string]string{
		"users.bad-code.yaml":       "users.chaoyang-wjw",
		"users.bad-duplicate.yaml":  "users.chaoyang",
		"users.bad-key.yaml":        "",
		"users.bad-nationwide.yaml": "users.someone",
		"missing.yaml":              "",
	}
	for file, key := range bad {
		_, err := LoadUsersFile(filepath.Join("testdata", file))
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Key != key || !strings.HasSuffix(ce.File, file) {
			t.Errorf("%s: %v, want an error on key %q", file, err, key)
		}
	}
}

// TestKubernetesConfigLoads: the Kubernetes proxy config loads and reads
// Grafana's logins from the access database.
func TestKubernetesConfigLoads(t *testing.T) {
	t.Setenv("CW_GRAFANA_AUTH_PASSWORD", testSecret)
	cfg := DefaultConfig()
	if err := config.Load(filepath.Join("..", "..", "deploy", "kubernetes", "config", "influxproxy.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.UsersSource != UsersSourceAccess || cfg.Access.Database.Driver != "postgres" || cfg.HTTP.Listen != "127.0.0.1:9104" {
		t.Fatalf("%+v", cfg)
	}
}

// TestDeployFiles: the compose demo's proxy config and users file load,
// and Grafana's provisioned InfluxDB datasource goes through the proxy
// with basic auth, under the uid the dashboards use.
func TestDeployFiles(t *testing.T) {
	t.Setenv("CW_GRAFANA_AUTH_PASSWORD", testSecret)
	cfg := DefaultConfig()
	dir := filepath.Join("..", "..", "deploy", "compose", "config")
	if err := config.Load(filepath.Join(dir, "influxproxy.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadUsersFile(filepath.Join(dir, "influxproxy-users.yaml")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "provisioning", "datasources", "cradlewatch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Datasources []struct {
			UID, Type, URL, User string
			BasicAuth            bool   `yaml:"basicAuth"`
			BasicAuthUser        string `yaml:"basicAuthUser"`
			JSONData             struct {
				DBName string `yaml:"dbName"`
			} `yaml:"jsonData"`
			SecureJSONData map[string]string `yaml:"secureJsonData"`
		}
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ds := range doc.Datasources {
		if ds.UID != dashboards.InfluxUID {
			continue
		}
		found = true
		if ds.Type != "influxdb" || ds.URL != "${CW_INFLUXPROXY_URL}" || !ds.BasicAuth || ds.BasicAuthUser == "" ||
			ds.SecureJSONData["basicAuthPassword"] == "" || ds.User != "" || ds.SecureJSONData["password"] != "" ||
			ds.JSONData.DBName != DefaultConfig().Database {
			t.Errorf("the InfluxDB datasource does not go through the proxy with basic auth: %+v", ds)
		}
	}
	if !found {
		t.Errorf("no datasource with uid %s", dashboards.InfluxUID)
	}
}
