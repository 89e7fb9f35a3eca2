package alerting

import (
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
	if err := Check(cfg); err != nil {
		t.Fatal(err)
	}
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
	err := Check(cfg)
	if err == nil || !strings.Contains(err.Error(), "notify.group_wait_rules.co2_hourli") {
		t.Fatalf("err %v", err)
	}
}
