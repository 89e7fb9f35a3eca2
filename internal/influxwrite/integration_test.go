package influxwrite_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// TestSinkAgainstInfluxd writes plain and gzipped bodies to a real InfluxDB
// 1.8 and checks that a field type conflict comes back as ErrBadData (the
// collector bisects it) rather than as a transient error.
func TestSinkAgainstInfluxd(t *testing.T) {
	inf := testenv.Influx(t)
	ctx := context.Background()
	for _, gz := range []bool{false, true} {
		cfg := influxwrite.DefaultConfig()
		cfg.URL, cfg.Gzip = inf.URL(), gz
		if err := influxwrite.CreateDatabase(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		s := influxwrite.NewInfluxSink(cfg)
		defer s.Close()
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, []byte("m,t=a v=1 1764118800000\nm,t=b v=2 1764118800001\n")); err != nil {
			t.Fatalf("gzip %v: %v", gz, err)
		}
		if err := s.Write(ctx, []byte("m,t=a v=\"text\" 1764118800002\n")); !errors.Is(err, influxwrite.ErrBadData) {
			t.Fatalf("gzip %v: type conflict: %v, want ErrBadData", gz, err)
		}
	}
	if n, err := inf.Count(ctx, "cradlewatch", "SELECT count(v) FROM m"); err != nil || n != 2 {
		t.Fatalf("stored %d points (%v), want 2: the gzipped write repeats the plain one", n, err)
	}
}

// TestCreateThenWriteAgainstInfluxd is the race a fresh clone once met:
// InfluxDB answers CREATE DATABASE with 200 before it has run it, so a
// write right after could get 404 "database not found". CreateDatabase
// waits until the database is listed; every write that follows it at once
// must succeed, many times over. A write to a database that does not exist
// is ErrDatabaseNotFound, which callers retry.
func TestCreateThenWriteAgainstInfluxd(t *testing.T) {
	inf := testenv.Influx(t)
	ctx := t.Context()
	const rounds = 150
	for i := range rounds {
		cfg := influxwrite.DefaultConfig()
		cfg.URL, cfg.Database = inf.URL(), fmt.Sprintf("race%d", i)
		if err := influxwrite.CreateDatabase(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		s := influxwrite.NewInfluxSink(cfg)
		err := s.Write(ctx, []byte("m v=1 1764118800000\n"))
		s.Close()
		if err != nil {
			t.Fatalf("round %d: write right after CreateDatabase: %v", i, err)
		}
	}

	cfg := influxwrite.DefaultConfig()
	cfg.URL, cfg.Database = inf.URL(), "never-created"
	s := influxwrite.NewInfluxSink(cfg)
	defer s.Close()
	if err := s.Write(ctx, []byte("m v=1 1764118800000\n")); !errors.Is(err, influxwrite.ErrDatabaseNotFound) {
		t.Fatalf("write to a missing database: %v, want ErrDatabaseNotFound", err)
	}
}
