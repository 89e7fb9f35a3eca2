package spot

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// VersionTable is the console's own goose history in the access database:
// the access package's migrations keep theirs (goose_db_version).
const VersionTable = "console_goose_db_version"

// consoleLockID is the console's PostgreSQL advisory lock for migrating,
// apart from the access package's.
const consoleLockID = 5_887_940_537_704_921_355

// Outcomes of an inspection.
const (
	OutcomePass    = "pass"    // 合格
	OutcomeRectify = "rectify" // 责令限期整改
	OutcomeFail    = "fail"    // 不合格
	OutcomeClosed  = "closed"  // 未能检查（停业等）
)

// Outcomes lists the outcomes in form order.
var Outcomes = []string{OutcomePass, OutcomeRectify, OutcomeFail, OutcomeClosed}

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("spot: not found")

// Store keeps spot checks in the access database.
type Store struct {
	db *sql.DB
}

// Open migrates the console's tables in db (driver "sqlite" or
// "postgres", as access/store names them) and returns the store.
func Open(ctx context.Context, db *sql.DB, driver string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var dialect goose.Dialect
	opts := []goose.ProviderOption{goose.WithTableName(VersionTable), goose.WithSlog(log.With("component", "console-migrations"))}
	switch driver {
	case "sqlite":
		dialect = goose.DialectSQLite3
	case "postgres":
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(consoleLockID))
		if err != nil {
			return nil, fmt.Errorf("spot: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	default:
		return nil, fmt.Errorf("spot: driver %q: want sqlite or postgres", driver)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(dialect, db, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("spot: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return nil, fmt.Errorf("spot: migrate: %w", err)
	}
	return &Store{db: db}, nil
}

// InspectorRow is an inspector of a county's list.
type InspectorRow struct {
	Inspector
	Active bool
}

// Inspectors lists a county's inspectors by ID.
func (s *Store) Inspectors(ctx context.Context, county string) ([]InspectorRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, active FROM console_spot_inspectors WHERE county = $1 ORDER BY id`, county)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []InspectorRow
	for rows.Next() {
		var r InspectorRow
		if err := rows.Scan(&r.ID, &r.Name, &r.Active); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// PutInspector adds an inspector or changes their name and whether they
// are drawn.
func (s *Store) PutInspector(ctx context.Context, county string, in InspectorRow, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE console_spot_inspectors SET name = $3, active = $4 WHERE county = $1 AND id = $2`,
		county, in.ID, in.Name, in.Active)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO console_spot_inspectors (county, id, name, active, created_at) VALUES ($1, $2, $3, $4, $5)`,
		county, in.ID, in.Name, in.Active, at.UnixNano())
	return err
}

// Conflicts lists a county's recusals.
func (s *Store) Conflicts(ctx context.Context, county string) ([]Conflict, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT inspector, facility FROM console_spot_conflicts WHERE county = $1 ORDER BY inspector, facility`, county)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Conflict
	for rows.Next() {
		var c Conflict
		if err := rows.Scan(&c.Inspector, &c.Facility); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// AddConflict records a recusal (adding it twice is harmless).
func (s *Store) AddConflict(ctx context.Context, county string, c Conflict) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO console_spot_conflicts (county, inspector, facility) VALUES ($1, $2, $3)`,
		county, c.Inspector, c.Facility)
	if err != nil && isUnique(err) {
		return nil
	}
	return err
}

// DrawRow is a stored draw.
type DrawRow struct {
	ID          string
	County      string
	Period      string
	DrawnAt     time.Time
	DrawnBy     string
	Seed        string
	Document    []byte
	PublishedAt time.Time // zero until published
	PublishedBy string
}

// InsertDraw stores a draw as drawn.
func (s *Store) InsertDraw(ctx context.Context, d DrawRow) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO console_spot_draws (id, county, period, drawn_at, drawn_by, seed, document)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, d.ID, d.County, d.Period, d.DrawnAt.UnixNano(), d.DrawnBy, d.Seed, string(d.Document))
	return err
}

const drawColumns = `id, county, period, drawn_at, drawn_by, seed, document, published_at, published_by`

func scanDraw(sc interface{ Scan(...any) error }) (DrawRow, error) {
	var d DrawRow
	var drawn int64
	var pub sql.NullInt64
	var doc string
	if err := sc.Scan(&d.ID, &d.County, &d.Period, &drawn, &d.DrawnBy, &d.Seed, &doc, &pub, &d.PublishedBy); err != nil {
		return DrawRow{}, err
	}
	d.DrawnAt, d.Document = time.Unix(0, drawn).UTC(), []byte(doc)
	if pub.Valid {
		d.PublishedAt = time.Unix(0, pub.Int64).UTC()
	}
	return d, nil
}

// Draw returns one draw.
func (s *Store) Draw(ctx context.Context, id string) (DrawRow, error) {
	d, err := scanDraw(s.db.QueryRowContext(ctx, `SELECT `+drawColumns+` FROM console_spot_draws WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return DrawRow{}, ErrNotFound
	}
	return d, err
}

// Draws lists the draws of counties starting with prefix ("" for all),
// newest first; published only when onlyPublished.
func (s *Store) Draws(ctx context.Context, prefix string, onlyPublished bool) ([]DrawRow, error) {
	q := `SELECT ` + drawColumns + ` FROM console_spot_draws WHERE county LIKE $1`
	if onlyPublished {
		q += ` AND published_at IS NOT NULL`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY drawn_at DESC`, likePrefix(prefix))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DrawRow
	for rows.Next() {
		d, err := scanDraw(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Publish marks a draw published (once: publishing again keeps the first).
func (s *Store) Publish(ctx context.Context, id, by string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE console_spot_draws SET published_at = $2, published_by = $3 WHERE id = $1 AND published_at IS NULL`,
		id, at.UnixNano(), by)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.Draw(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// Result is one inspection's result.
type Result struct {
	DrawID      string
	Facility    string
	InspectedOn string // YYYY-MM-DD
	Outcome     string
	Findings    string
	EnteredBy   string
	EnteredAt   time.Time
}

// PutResult records (or corrects) the result of a drawn facility.
func (s *Store) PutResult(ctx context.Context, r Result) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_spot_results WHERE draw_id = $1 AND facility = $2`, r.DrawID, r.Facility); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO console_spot_results (draw_id, facility, inspected_on, outcome, findings, entered_by, entered_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.DrawID, r.Facility, r.InspectedOn, r.Outcome, r.Findings, r.EnteredBy, r.EnteredAt.UnixNano())
		return err
	})
}

// Results lists a draw's results by facility.
func (s *Store) Results(ctx context.Context, drawID string) (map[string]Result, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT draw_id, facility, inspected_on, outcome, findings, entered_by, entered_at
		FROM console_spot_results WHERE draw_id = $1`, drawID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Result{}
	for rows.Next() {
		var r Result
		var at int64
		if err := rows.Scan(&r.DrawID, &r.Facility, &r.InspectedOn, &r.Outcome, &r.Findings, &r.EnteredBy, &at); err != nil {
			return nil, err
		}
		r.EnteredAt = time.Unix(0, at).UTC()
		out[r.Facility] = r
	}
	return out, rows.Err()
}

// LastInspections returns, per facility of the county, the day of its
// latest recorded inspection (YYYY-MM-DD): what the next ranking counts
// from. A facility that could not be inspected (closed) does not count.
func (s *Store) LastInspections(ctx context.Context, county string) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT r.facility, MAX(r.inspected_on) FROM console_spot_results r
		JOIN console_spot_draws d ON d.id = r.draw_id WHERE d.county = $1 AND r.outcome <> $2 GROUP BY r.facility`, county, OutcomeClosed)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var f, day string
		if err := rows.Scan(&f, &day); err != nil {
			return nil, err
		}
		out[f] = day
	}
	return out, rows.Err()
}

// PublishedResults lists the results of published draws of a facility,
// newest first.
func (s *Store) PublishedResults(ctx context.Context, facility string) ([]Result, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT r.draw_id, r.facility, r.inspected_on, r.outcome, r.findings, r.entered_by, r.entered_at
		FROM console_spot_results r JOIN console_spot_draws d ON d.id = r.draw_id
		WHERE r.facility = $1 AND d.published_at IS NOT NULL ORDER BY r.inspected_on DESC`, facility)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Result
	for rows.Next() {
		var r Result
		var at int64
		if err := rows.Scan(&r.DrawID, &r.Facility, &r.InspectedOn, &r.Outcome, &r.Findings, &r.EnteredBy, &at); err != nil {
			return nil, err
		}
		r.EnteredAt = time.Unix(0, at).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

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

// likePrefix escapes a prefix for LIKE (region codes are digits; escape
// anyway).
func likePrefix(p string) string {
	return strings.NewReplacer(`%`, ``, `_`, ``).Replace(p) + "%"
}

func isUnique(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLSTATE 23505") || strings.Contains(msg, "UNIQUE constraint failed") ||
		strings.Contains(msg, "duplicate key value")
}
