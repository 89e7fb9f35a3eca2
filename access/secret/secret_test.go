package secret

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cradlewatch/cradlewatch/internal/config"
)

func TestCheckRefusesPlaceholders(t *testing.T) {
	for _, bad := range []string{"", "   ", "change-me", "CHANGE_ME", "change-me-please-0123456789", "ChangeMe!2024abcdef", "<secret>",
		"${SECRET}", "xxxxxxxxxxxxxxxxxxxx", "aaaaaaaaaaaaaaaaaaaaaaa", "password1234567890", "short", "REPLACE_ME_WITH_A_KEY_123"} {
		err := Check("notify.callback.aliyun_secret", []byte(bad))
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Key != "notify.callback.aliyun_secret" {
			t.Errorf("%q accepted or without its key: %v", bad, err)
		}
	}
	if err := Check("k", []byte("q3Xv9LmP0wz7R2tYb8NcK1fH")); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("q3Xv9LmP0wz7R2tYb8NcK1fH\n"), 0o600)
	v, err := Load("access.phone_key", good, "")
	if err != nil || string(v) != "q3Xv9LmP0wz7R2tYb8NcK1fH" {
		t.Fatalf("%q %v", v, err)
	}
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte("q3Xv9LmP0wz7R2tYb8NcK1fH"), 0o644)
	if _, err := Load("k", open, ""); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("world-readable file: %v", err)
	}
	ph := filepath.Join(dir, "ph")
	os.WriteFile(ph, []byte("change-me\n"), 0o600)
	if _, err := Load("k", ph, ""); err == nil {
		t.Fatal("placeholder file accepted")
	}
	t.Setenv("CW_TEST_SECRET", "CHANGE_ME")
	if _, err := Load("k", "", "CW_TEST_SECRET"); err == nil {
		t.Fatal("placeholder env accepted")
	}
	t.Setenv("CW_TEST_SECRET", "q3Xv9LmP0wz7R2tYb8NcK1fH")
	if _, err := Load("k", "", "CW_TEST_SECRET"); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("k", "", "CW_UNSET_SECRET"); err == nil || !strings.Contains(err.Error(), "k_file") {
		t.Fatalf("missing: %v", err)
	}
	// A key that names the file already is not named "..._file_file".
	if _, err := Load("access.database.dsn_file", "", "CW_UNSET_SECRET"); err == nil || strings.Contains(err.Error(), "_file_file") ||
		!strings.Contains(err.Error(), "set access.database.dsn_file (") {
		t.Fatalf("missing: %v", err)
	}
	if _, err := Load("k", filepath.Join(dir, "nope"), ""); err == nil {
		t.Fatal("missing file accepted")
	}
}
