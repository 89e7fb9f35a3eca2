package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cradlewatch/cradlewatch/alerting"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/alerting/state"
)

// The access pieces every alerting instance needs since it answers only
// the control bus and writes an audit trail: the control bus secret, the
// phone pseudonym key and its part of an access database (SQLite here).

// ensureSecret writes a random secret to path unless it exists, so a
// restarted service reads the same one.
func ensureSecret(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 32)
	rand.Read(b)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(b)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ensureAccess fills in cfg's control bus secret and access database when
// the test left them empty, in a folder beside its state directory (so a
// restart on the same state finds the same ones).
func ensureAccess(t *testing.T, cfg *alerting.Config) {
	t.Helper()
	base := cfg.StateDir + ".access"
	if cfg.Ctl.SecretFile == "" {
		cfg.Ctl.SecretFile = ensureSecret(t, filepath.Join(base, "secrets", "ctl.key"))
	}
	if cfg.Access.PhoneKeyFile == "" {
		cfg.Access.PhoneKeyFile = ensureSecret(t, filepath.Join(base, "secrets", "phone.key"))
	}
	if cfg.Access.Database.Path == "" {
		cfg.Access.Database.Path = filepath.Join(base, "access.db")
	}
	if cfg.Access.Audit.Chain == "" {
		cfg.Access.Audit.Chain = fmt.Sprintf("alerting-%d", cfg.Shard.Index)
	}
	if cfg.Access.Audit.SpoolDir == "" {
		cfg.Access.Audit.SpoolDir = filepath.Join(base, "audit")
	}
}

// accessYAML writes the secrets of the alerting binary's test in dir and
// returns the configuration's ctl and access sections.
func accessYAML(t *testing.T, dir string) string {
	t.Helper()
	return fmt.Sprintf(`ctl: {secret_file: %s}
access:
  database: {driver: sqlite, path: %s}
  audit: {chain: alerting-0, spool_dir: %s}
  phone_key_file: %s
`, ensureSecret(t, filepath.Join(dir, "secrets", "ctl.key")), filepath.Join(dir, "access.db"), filepath.Join(dir, "audit"),
		ensureSecret(t, filepath.Join(dir, "secrets", "phone.key")))
}

// alertHistory reads an alert's recorded transitions from an alerting
// instance's state directory (the files only: it may run beside the
// service), oldest first.
func alertHistory(t *testing.T, stateDir, rule, facility, room, device string) []rules.Transition {
	t.Helper()
	es, _, err := state.History(stateDir, rules.Fingerprint(rule, facility, room, device), 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("history of %s in %s: %v", rule, facility, err)
	}
	var out []rules.Transition
	for _, e := range es {
		if !e.Notified {
			out = append(out, e.Transition)
		}
	}
	return out
}
