// Package storetest runs a test against both engines of the access
// database: SQLite (a file in the test's directory) and PostgreSQL (a
// real server from internal/testenv). Only tests import it.
package storetest

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// Engine is one database engine under test.
type Engine struct {
	Name string
	pg   *testenv.PostgresServer
	n    atomic.Int64
}

// Engines returns SQLite, and PostgreSQL unless -short (then the test
// suite runs on SQLite alone, and testenv says why PostgreSQL was skipped
// when integration is required it fails instead).
func Engines(t *testing.T) []*Engine {
	t.Helper()
	engines := []*Engine{{Name: store.DriverSQLite}}
	if testing.Short() {
		t.Log("-short: PostgreSQL skipped")
		return engines
	}
	return append(engines, &Engine{Name: store.DriverPostgres, pg: testenv.Postgres(t)})
}

// Open gives t a fresh, migrated database of the engine, closed when t ends.
func (e *Engine) Open(t *testing.T) *store.Store {
	t.Helper()
	o := store.Options{Driver: e.Name}
	if e.pg != nil {
		o.DSN = e.pg.CreateDatabase(fmt.Sprintf("cw_access_%d", e.n.Add(1)))
	} else {
		o.DSN = filepath.Join(t.TempDir(), "access.db")
	}
	s, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open %s: %v", e.Name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Postgres is the engine's server (nil for SQLite), for outage tests.
func (e *Engine) Postgres() *testenv.PostgresServer { return e.pg }

// Each runs fn once per engine, each time on a fresh database.
func Each(t *testing.T, fn func(t *testing.T, e *Engine, s *store.Store)) {
	for _, e := range Engines(t) {
		t.Run(e.Name, func(t *testing.T) { fn(t, e, e.Open(t)) })
	}
}
