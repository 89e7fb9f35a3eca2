package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Options open a Store.
type Options struct {
	// Driver is "sqlite" (the embedded default) or "postgres".
	Driver string
	// DSN: for SQLite a file path ("/var/lib/cradlewatch/access.db"); for
	// PostgreSQL a URL or key=value string that pgx accepts. It may hold a
	// password: read it from a secret file (access/secret), never log it.
	DSN string
	// MaxOpenConns bounds the pool (default 10; SQLite uses 1 writer with
	// WAL and busy_timeout, readers share the pool).
	MaxOpenConns int
	Logger       *slog.Logger
}

// Store is the access database. Its methods are safe for concurrent use.
type Store struct {
	db     *sql.DB
	driver string
}

// Open connects, applies pending migrations and returns the store. Two
// processes starting at once on PostgreSQL take turns (an advisory lock).
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = 10
	}
	var (
		db      *sql.DB
		err     error
		dialect goose.Dialect
		opts    []goose.ProviderOption
	)
	switch o.Driver {
	case DriverSQLite:
		if o.DSN == "" {
			return nil, errors.New("store: sqlite needs a file path")
		}
		db, err = sql.Open("sqlite", sqliteDSN(o.DSN))
		dialect = goose.DialectSQLite3
	case DriverPostgres:
		db, err = sql.Open("pgx", o.DSN)
		dialect = goose.DialectPostgres
		locker, lerr := lock.NewPostgresSessionLocker()
		if lerr != nil {
			return nil, fmt.Errorf("store: %w", lerr)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	default:
		return nil, fmt.Errorf("store: driver %q: want sqlite or postgres", o.Driver)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", o.Driver, err)
	}
	db.SetMaxOpenConns(o.MaxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, driver: o.Driver}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect %s: %w", o.Driver, err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		db.Close()
		return nil, err
	}
	opts = append(opts, goose.WithSlog(o.Logger.With("component", "access-migrations")))
	p, err := goose.NewProvider(dialect, db, sub, opts...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	return s, nil
}

// sqliteDSN adds the settings every connection needs: WAL (readers do not
// block the writer), a busy timeout instead of "database is locked",
// foreign keys, and IMMEDIATE write transactions, so that two writers
// queue instead of failing on upgrade.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return "file:" + path + sep + q.Encode()
}

// Driver is "sqlite" or "postgres".
func (s *Store) Driver() string { return s.driver }

// DB is the database handle, for tests and tools.
func (s *Store) DB() *sql.DB { return s.db }

// Ping checks the connection (for readiness checks).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the pool; closing twice is harmless.
func (s *Store) Close() error {
	err := s.db.Close()
	if err != nil && strings.Contains(err.Error(), "closed") {
		return nil
	}
	return err
}

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrExists is returned when a unique name is already taken.
var ErrExists = errors.New("store: already exists")

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func nullNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}

// isUniqueViolation recognises a unique-constraint error of either driver
// without importing driver-specific error types.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLSTATE 23505") || strings.Contains(msg, "UNIQUE constraint failed") ||
		strings.Contains(msg, "duplicate key value")
}

// inTx runs fn in a transaction, committed if fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// nanos0 is nanos with the zero time stored as 0.
func nanos0(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, s *Store, query string, scan func(scanner) (T, error), args ...any) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
