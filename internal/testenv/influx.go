package testenv

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/cradlewatch/cradlewatch/internal/influxd"
)

// Influx starts an InfluxDB 1.8.3 server in t's temporary directory and
// stops it when the test ends. It creates no database: call
// CreateDatabase. The binary comes from $CW_INFLUXD or the repository's
// .cache/bin; only when integration is required (CW_REQUIRE_INTEGRATION=1)
// is it built when missing, since a build takes about a minute.
func Influx(t testing.TB) *influxd.Server {
	t.Helper()
	Integration(t)
	root, err := influxd.RepoRoot()
	if err != nil {
		t.Fatalf("influxd: %v", err)
	}
	var bin string
	if Required() {
		bin, err = influxd.Binary(t.Context(), root)
	} else {
		bin, err = influxd.Lookup(root)
	}
	if err != nil {
		missing(t, "influxd", err)
	}
	srv, err := influxd.Start(t.Context(), influxd.Options{
		Binary:  bin,
		DataDir: filepath.Join(t.TempDir(), "influxd"),
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatalf("start influxd: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop influxd: %v", err)
		}
	})
	return srv
}
