package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

func TestSpoolRoomWarning(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name                 string
		maxBytes, free, held int64
		warn                 bool
	}{
		{"room to spare", 256 * mb, 4096 * mb, 0, false},
		{"exactly room", 256 * mb, 200 * mb, 56 * mb, false},
		{"what the spool holds counts", 256 * mb, 100 * mb, 200 * mb, false},
		{"a careless installer's small partition", 256 * mb, 120 * mb, 0, true},
		{"filled by something else", 256 * mb, 10 * mb, 30 * mb, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := spoolRoomWarning("/var/lib/cradlewatch/spool", tc.maxBytes, tc.free, tc.held)
			if (w != "") != tc.warn {
				t.Fatalf("warning %q, want one: %v", w, tc.warn)
			}
			if tc.warn && (!strings.Contains(w, "spool.max_bytes is 256 MiB") || !strings.Contains(w, "/var/lib/cradlewatch/spool")) {
				t.Fatalf("warning %q does not name the key, the limit and the directory", w)
			}
		})
	}
}

// TestSpoolRoomOnThisDisk asks the real filesystem: a spool not yet
// created is checked on its nearest existing parent, what it holds is
// counted, and the gauge reads the same filesystem.
func TestSpoolRoomOnThisDisk(t *testing.T) {
	dir := t.TempDir()
	free, err := diskFree(dir)
	if err != nil {
		t.Skipf("free disk space not readable here: %v", err)
	}
	missing := filepath.Join(dir, "not", "yet")
	if got := existingParent(missing); got != dir {
		t.Fatalf("existing parent of %s: %s", missing, got)
	}
	if err := os.WriteFile(filepath.Join(dir, "00000001.seg"), make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := dirBytes(dir); got != 1000 {
		t.Fatalf("dirBytes %d, want 1000", got)
	}
	c := DefaultConfig()
	c.Spool.Dir, c.Spool.MaxBytes = missing, 1<<20
	if w := c.SpoolRoomWarning(); w != "" && free >= 1<<20 {
		t.Fatalf("1 MiB spool warned about on a filesystem with %d bytes free: %s", free, w)
	}
	c.Spool.MaxBytes = free + 1<<40
	if w := c.SpoolRoomWarning(); !strings.Contains(w, missing) {
		t.Fatalf("a spool larger than the disk: warning %q", w)
	}
	reg := prometheus.NewRegistry()
	registerDiskFree(reg, dir)
	if got := testenv.Metric(t, reg, "cw_gateway_spool_fs_free_bytes"); got <= 0 {
		t.Fatalf("cw_gateway_spool_fs_free_bytes %v", got)
	}
}
