package influxd_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestServerLifecycle covers what failure tests do with a server: write,
// crash it, see it gone, bring it back on the same address and find the
// acknowledged writes again (recovered from the WAL).
func TestServerLifecycle(t *testing.T) {
	srv := testenv.Influx(t)
	ctx := t.Context()
	const db = "cw"
	if err := srv.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	lines := strings.Join([]string{
		"co2,facility=f1,room=r1 value=800 1700000000000",
		"co2,facility=f1,room=r1 value=900 1700000060000",
		"co2,facility=f1,room=r2 value=1200 1700000000000",
		"co2,facility=f1,room=r1 value=900 1700000060000", // the same point again: merges, no new row
	}, "\n")
	if err := srv.Write(ctx, db, lines); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int64 {
		t.Helper()
		n, err := srv.Count(ctx, db, q)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(value) FROM co2`); n != 3 {
		t.Fatalf("count = %d, want 3", n)
	}
	if n := count(`SELECT count(value) FROM co2 GROUP BY room`); n != 3 {
		t.Fatalf("grouped count = %d, want 3", n)
	}
	if n := count(`SELECT count(value) FROM co2 WHERE room = 'none'`); n != 0 {
		t.Fatalf("count of nothing = %d, want 0", n)
	}

	url := srv.URL()
	srv.Kill()
	if srv.Running() {
		t.Fatal("running after Kill")
	}
	if err := srv.Ping(ctx); err == nil {
		t.Fatal("ping answered after Kill")
	}
	if err := srv.Write(ctx, db, "co2,facility=f1,room=r1 value=1 1700000120000"); err == nil {
		t.Fatal("write accepted while down")
	}

	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if srv.URL() != url {
		t.Fatalf("URL changed across restart: %s, then %s", url, srv.URL())
	}
	if n := count(`SELECT count(value) FROM co2`); n != 3 {
		t.Fatalf("count after crash and restart = %d, want 3", n)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

// BenchmarkStartStop measures what one test pays for its own InfluxDB:
// start in a fresh directory until /ping answers, then stop.
func BenchmarkStartStop(b *testing.B) {
	testenv.Integration(b)
	root, err := influxd.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	bin, err := influxd.Lookup(root)
	if err != nil {
		b.Skip(err)
	}
	for i := 0; b.Loop(); i++ {
		srv, err := influxd.Start(b.Context(), influxd.Options{Binary: bin, DataDir: filepath.Join(b.TempDir(), strconv.Itoa(i))})
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.Stop(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCreateDatabaseThenWrite: the launcher's CreateDatabase returns only
// once the database is listed, so a test's first write never meets 404
// "database not found", however often it is tried.
func TestCreateDatabaseThenWrite(t *testing.T) {
	srv := testenv.Influx(t)
	ctx := t.Context()
	for i := range 100 {
		db := "race" + strconv.Itoa(i)
		if err := srv.CreateDatabase(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := srv.Write(ctx, db, "m v=1 1700000000000"); err != nil {
			t.Fatalf("round %d: write right after CreateDatabase: %v", i, err)
		}
	}
}
