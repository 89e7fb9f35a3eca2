package alerting

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/config"
)

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join("..", rel)
}

// TestExampleConfig loads the shipped example and checks that its notify
// section is configs/notify.example.yaml, indented.
func TestExampleConfig(t *testing.T) {
	cfg := DefaultConfig()
	if err := config.Load(repoFile(t, "configs/alerting.example.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	all, err := os.ReadFile(repoFile(t, "configs/alerting.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	section, ok := strings.CutPrefix(string(all)[strings.Index(string(all), "\nnotify:\n")+1:], "notify:\n")
	if !ok {
		t.Fatal("no notify: section")
	}
	var dedented []string
	for _, l := range strings.Split(section, "\n") {
		dedented = append(dedented, strings.TrimPrefix(l, "  "))
	}
	want, err := os.ReadFile(repoFile(t, "configs/notify.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(dedented, "\n") != string(want) {
		t.Fatal("the notify: section of configs/alerting.example.yaml differs from configs/notify.example.yaml; copy it again, indented by two spaces")
	}
}

func TestCheckExample(t *testing.T) {
	cfg := DefaultConfig()
	if err := config.Load(repoFile(t, "configs/alerting.example.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Facilities = repoFile(t, cfg.Facilities)
	cfg.Rules = repoFile(t, cfg.Rules)
	cfg.CalendarDir = repoFile(t, cfg.CalendarDir)
	if err := Check(cfg); err == nil || !strings.Contains(err.Error(), "ctl.secret_file") {
		t.Fatalf("the example's secret files do not exist here: %v, want ctl.secret_file named", err)
	}
	withAccess(t, &cfg)
	if err := Check(cfg); err != nil {
		t.Fatal(err)
	}
}

// TestConfigErrorsNameTheKey: a wrong value in the alerting configuration
// fails loading with the file, the key and the reason; so does a mistake
// in the rules file it names, through Check.
func TestConfigErrorsNameTheKey(t *testing.T) {
	example, err := os.ReadFile(repoFile(t, "configs/alerting.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ old, new, key string }{ // the first occurrence of old is replaced
		{"tick_interval: 1s", "tick_interval: -1s", "tick_interval"},
		{"tick_interval: 1s", "tick_interval: 1ns", "tick_interval"},
		{"series_snapshot_interval: 1m", "series_snapshot_interval: 0s", "series_snapshot_interval"},
		{"series_snapshot_interval: 1m", "series_snapshot_interval: -1m", "series_snapshot_interval"},
		{"  id: platform\n", "  id: \"\"\n", "platform.id"},
		{"  contacts: []\n", "  contacts: [{id: oncall, name: 值班}]\n", "platform.contacts[0]"},
		{"  contacts: []\n", "  contacts: [{name: 值班, phone: \"13600000000\"}]\n", "platform.contacts[0].id"},
		{"shard:\n  index: 0", "shard:\n  index: 2", "shard.index"},
		{"listen: 127.0.0.1:9102", "listen: 0.0.0.0:9102", "http.listen"},
		{"listen: 127.0.0.1:9102", "listen: :9102", "http.listen"},
		{"secret_file: /etc/cradlewatch/secrets/ctl.key", `secret_file: ""`, "ctl.secret_file"},
		{"chain: alerting-0", `chain: ""`, "access.audit.chain"},
		{"  phone_key_file: /etc/cradlewatch/secrets/phone.key", `  phone_key_file: ""`, "access.phone_key_file"},
		{"    cap: 168h\n", "    cap: 1000h\n", "access.silences"},
		{`    base_url: ""`, `    base_url: "https://cw.example.gov.cn"`, "notify.links.key_file"},
	}
	for _, tc := range tests {
		t.Run(tc.new, func(t *testing.T) {
			if !strings.Contains(string(example), tc.old) {
				t.Fatalf("the example has no %q", tc.old)
			}
			path := filepath.Join(t.TempDir(), "alerting.yaml")
			if err := os.WriteFile(path, []byte(strings.Replace(string(example), tc.old, tc.new, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			err := config.Load(path, &cfg)
			var ce *config.Error
			if !errors.As(err, &ce) || ce.File != path || ce.Key != tc.key || ce.Reason == "" {
				t.Fatalf("got %#v, want file %s key %s", err, path, tc.key)
			}
		})
	}
	t.Run("same state directory twice", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Notify.StateDir = cfg.StateDir + "/"
		var ce *config.Error
		if err := cfg.Validate(); !errors.As(err, &ce) || ce.Key != "notify.state_dir" {
			t.Fatalf("got %#v", err)
		}
	})
	t.Run("rules file through Check", func(t *testing.T) {
		cfg := DefaultConfig()
		if err := config.Load(repoFile(t, "configs/alerting.example.yaml"), &cfg); err != nil {
			t.Fatal(err)
		}
		rules, err := os.ReadFile(repoFile(t, "configs/rules.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Rules = filepath.Join(t.TempDir(), "rules.yaml")
		if err := os.WriteFile(cfg.Rules, []byte(strings.Replace(string(rules), "    for: 15m\n", "    for: -15m\n", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Facilities = repoFile(t, cfg.Facilities)
		cfg.CalendarDir = repoFile(t, cfg.CalendarDir)
		withAccess(t, &cfg)
		err = Check(cfg)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.File != cfg.Rules || ce.Key != "rules[0].for" {
			t.Fatalf("got %#v", err)
		}
	})
}

// TestCheckNamesUnknownGroupWaitRule: a wait for a rule that does not
// exist (a typo) fails check-config instead of being ignored.
func TestCheckNamesUnknownGroupWaitRule(t *testing.T) {
	cfg := DefaultConfig()
	if err := config.Load(repoFile(t, "configs/alerting.example.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Facilities = repoFile(t, cfg.Facilities)
	cfg.Rules = repoFile(t, cfg.Rules)
	cfg.CalendarDir = repoFile(t, cfg.CalendarDir)
	cfg.Notify.GroupWaitRules = map[string]time.Duration{"co2_hourli": time.Minute}
	withAccess(t, &cfg)
	err := Check(cfg)
	if err == nil || !strings.Contains(err.Error(), "notify.group_wait_rules.co2_hourli") {
		t.Fatalf("err %v", err)
	}
}

// TestDeployConfigsLoad: the configurations deploy/ ships load and
// validate (their secret files exist only where they are deployed), with
// the operational listener on loopback.
func TestDeployConfigsLoad(t *testing.T) {
	for _, f := range []string{"deploy/compose/config/alerting.yaml", "deploy/kubernetes/config/alerting.yaml"} {
		cfg := DefaultConfig()
		if err := config.Load(repoFile(t, f), &cfg); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !strings.HasPrefix(cfg.HTTP.Listen, "127.0.0.1:") || cfg.Ctl.SecretFile == "" || cfg.Access.PhoneKeyFile == "" {
			t.Errorf("%s: listen %q, ctl %q, phone key %q", f, cfg.HTTP.Listen, cfg.Ctl.SecretFile, cfg.Access.PhoneKeyFile)
		}
	}
}
