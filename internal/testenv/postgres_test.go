package testenv

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestPostgresStartsQueriesRestartsAndStops(t *testing.T) {
	s := Postgres(t)
	dsn := s.CreateDatabase("cw_probe")
	if !strings.Contains(dsn, "127.0.0.1:"+strconv.Itoa(s.Port())+"/cw_probe") {
		t.Fatalf("dsn %s", dsn)
	}
	query := func(sql string) string {
		t.Helper()
		out, err := exec.Command(filepath.Join(s.bin, "psql"), "-X", "-At", "-d", dsn, "-c", sql).CombinedOutput()
		if err != nil {
			t.Fatalf("psql %s: %v\n%s", sql, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	query("CREATE TABLE t (v int); INSERT INTO t VALUES (42)")
	if v := query("SELECT current_setting('server_version_num')::int / 10000"); v != "15" {
		t.Fatalf("server version %s, want 15", v)
	}
	s.Stop()
	s.Start()
	if v := query("SELECT v FROM t"); v != "42" {
		t.Fatalf("after restart %q", v)
	}
	s.Stop()
	if err := exec.Command(filepath.Join(s.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port())).Run(); err == nil {
		t.Fatal("still answering after Stop")
	}
}
