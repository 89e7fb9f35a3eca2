package alerting

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/fileutil"
)

func newService(cfg Config) (*Service, error) {
	reg := prometheus.NewRegistry()
	return New(Options{Config: cfg, Registry: testRegistry(), Registerer: reg, Gatherer: reg})
}

// free reports whether addr can be bound again.
func free(t *testing.T, addr string) bool {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// TestLifecycle: what New acquires (the API's port, the state
// directories' locks, the state files), Close releases, idempotently; a
// New that fails on the way leaves no port and no lock behind.
func TestLifecycle(t *testing.T) {
	cfg := testConfig(t)
	s, err := newService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := s.HTTPAddr()
	// A second instance on the same state directories is refused.
	other := cfg
	other.HTTP.Listen = "127.0.0.1:0"
	if _, err := newService(other); !errors.Is(err, fileutil.ErrLocked) {
		t.Fatalf("second instance on the same state_dir: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if !free(t, addr) {
		t.Fatalf("Close left %s bound", addr)
	}

	t.Run("port taken", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		busy := cfg
		busy.HTTP.Listen = ln.Addr().String()
		if _, err := newService(busy); err == nil {
			t.Fatal("started on a port in use")
		}
		// Nothing else was taken: the same directories start at once.
		s, err := newService(cfg)
		if err != nil {
			t.Fatalf("after a failed start: %v", err)
		}
		s.Close()
	})

	t.Run("state unreadable", func(t *testing.T) {
		dir := t.TempDir()
		broken := cfg
		broken.StateDir = dir
		if err := os.WriteFile(filepath.Join(dir, "snapshot.json"), []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		broken.HTTP.Listen = ln.Addr().String()
		ln.Close()
		if _, err := newService(broken); err == nil {
			t.Fatal("started on a broken state")
		}
		if !free(t, broken.HTTP.Listen) {
			t.Fatalf("a failed start left %s bound", broken.HTTP.Listen)
		}
		for _, d := range []string{dir, cfg.Notify.StateDir} {
			l, err := fileutil.LockDir(d)
			if err != nil {
				t.Fatalf("a failed start left %s locked: %v", d, err)
			}
			l.Release()
		}
	})
}
