package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// registryOf makes a facility registry folder holding copies of the given
// facility files (a test's folder also holds gateway configs, which are no
// facility files), for the collector.
func registryOf(t *testing.T, facilityFiles ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range facilityFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
