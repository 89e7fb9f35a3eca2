package influxd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/cradlewatch/cradlewatch/internal/influxql"
)

// maxErrorBody bounds how much of an error answer is quoted in an error.
const maxErrorBody = 4 << 10

// Client returns an InfluxQL client for db on this server, with
// nanosecond times so tests can compare stored times exactly. It shares
// the server's HTTP transport, which Stop and Kill close.
func (s *Server) Client(db string) *influxql.Client {
	return &influxql.Client{URL: s.url, Database: db, Epoch: influxql.EpochNanos, HTTP: s.client}
}

// Query runs InfluxQL against db (empty for statements that name their
// database) and returns every series of the answer, times in nanoseconds.
func (s *Server) Query(ctx context.Context, db, q string) ([]influxql.Series, error) {
	return s.Client(db).Query(ctx, q)
}

// Count runs a `SELECT count(...)` query against db (see influxql.Client.Count).
func (s *Server) Count(ctx context.Context, db, q string) (int64, error) {
	return s.Client(db).Count(ctx, q)
}

// CreateDatabase creates a database (a no-op if it exists) with its default
// autogen retention policy, as the collector expects, and returns once the
// server lists it.
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	return s.Client("").CreateDatabase(ctx, name)
}

// Write sends line protocol to db with millisecond precision, the
// precision of every reading in the wire contract. It is for seeding test
// data; the services write through internal/influxwrite.
func (s *Server) Write(ctx context.Context, db, lines string) error {
	u := s.url + "/write?" + url.Values{"db": {db}, "precision": {"ms"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(lines))
	if err != nil {
		return fmt.Errorf("influxd: write: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("influxd: write to %s: %w", db, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("influxd: write to %s: status %s: %s", db, resp.Status, body)
	}
	return nil
}

// WriteLines seeds db with many lines, 5,000 per request (the batch size
// InfluxDB 1.x handles best).
func (s *Server) WriteLines(ctx context.Context, db string, lines []string) error {
	const batch = 5000
	for i := 0; i < len(lines); i += batch {
		if err := s.Write(ctx, db, strings.Join(lines[i:min(i+batch, len(lines))], "\n")); err != nil {
			return err
		}
	}
	return nil
}
