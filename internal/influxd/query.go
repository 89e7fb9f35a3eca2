package influxd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
)

// maxErrorBody bounds how much of an error answer is quoted in an error.
const maxErrorBody = 4 << 10

// Result is the answer to an InfluxQL query: the series of every statement,
// in order.
type Result struct {
	Series []Series
}

// Series is one series of a query answer. Values holds rows in Columns
// order; numbers are json.Number (exact for int64 counts), times are
// integers in nanoseconds since the epoch (the query asks for epoch=ns),
// strings and booleans are as JSON decodes them, and nil is a missing value.
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags,omitempty"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// Column returns the index of the named column, -1 if absent.
func (s Series) Column(name string) int {
	for i, c := range s.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// QueryError is an error InfluxDB reported for a query or one of its
// statements (a parse error, an unknown database, a type conflict). Tests
// that expect a rejection check for it with errors.As.
type QueryError struct {
	Statement int // index of the failing statement, -1 for the whole request
	Message   string
}

func (e *QueryError) Error() string {
	if e.Statement < 0 {
		return "influxd: query: " + e.Message
	}
	return fmt.Sprintf("influxd: query: statement %d: %s", e.Statement, e.Message)
}

// wireResponse is the JSON of /query.
type wireResponse struct {
	Results []struct {
		StatementID int      `json:"statement_id"`
		Series      []Series `json:"series"`
		Error       string   `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

// parseResult decodes a /query answer. The first statement error wins.
func parseResult(r io.Reader) (Result, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var w wireResponse
	if err := dec.Decode(&w); err != nil {
		return Result{}, fmt.Errorf("influxd: query: decode answer: %w", err)
	}
	if w.Error != "" {
		return Result{}, &QueryError{Statement: -1, Message: w.Error}
	}
	var res Result
	for _, st := range w.Results {
		if st.Error != "" {
			return Result{}, &QueryError{Statement: st.StatementID, Message: st.Error}
		}
		res.Series = append(res.Series, st.Series...)
	}
	return res, nil
}

// Query runs InfluxQL against db (empty for statements that name their
// database) and returns every series of the answer.
func (s *Server) Query(ctx context.Context, db, influxql string) (Result, error) {
	form := url.Values{"q": {influxql}, "epoch": {"ns"}}
	if db != "" {
		form.Set("db", db)
	}
	// POST, because InfluxDB 1.x refuses writing statements (CREATE, DROP)
	// sent with GET, and SELECT works either way.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return Result{}, fmt.Errorf("influxd: query: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("influxd: query %q: %w", influxql, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Result{}, fmt.Errorf("influxd: query %q: read answer: %w", influxql, err)
	}
	res, perr := parseResult(bytes.NewReader(body))
	if resp.StatusCode != http.StatusOK {
		if perr != nil && !isQueryError(perr) {
			return Result{}, fmt.Errorf("influxd: query %q: status %s: %s", influxql, resp.Status, clip(body))
		}
		if perr == nil {
			perr = &QueryError{Statement: -1, Message: resp.Status}
		}
	}
	if perr != nil {
		return Result{}, fmt.Errorf("%w (query %q)", perr, influxql)
	}
	return res, nil
}

func isQueryError(err error) bool {
	_, ok := err.(*QueryError)
	return ok
}

func clip(b []byte) string {
	if len(b) > maxErrorBody {
		return string(b[:maxErrorBody]) + "..."
	}
	return string(b)
}

// CreateDatabase creates a database (a no-op if it exists) with its default
// autogen retention policy, as the collector expects.
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	if _, err := s.Query(ctx, "", "CREATE DATABASE "+QuoteIdent(name)); err != nil {
		return fmt.Errorf("influxd: create database %s: %w", name, err)
	}
	return nil
}

// QuoteIdent quotes an InfluxQL identifier (database, measurement, tag key).
func QuoteIdent(name string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
}

// Count runs a `SELECT count(...)` query and returns the sum, over every
// series and row of the answer, of the first column after time. That is
// the count whether or not the query groups by tags or time. No series
// (InfluxDB's answer when nothing matches) counts as 0.
func (s *Server) Count(ctx context.Context, db, influxql string) (int64, error) {
	res, err := s.Query(ctx, db, influxql)
	if err != nil {
		return 0, err
	}
	return countOf(res)
}

func countOf(res Result) (int64, error) {
	var total int64
	for _, se := range res.Series {
		if len(se.Columns) < 2 {
			return 0, fmt.Errorf("influxd: count: series %q has columns %v, want time and a count", se.Name, se.Columns)
		}
		for i, row := range se.Values {
			if len(row) < 2 {
				return 0, fmt.Errorf("influxd: count: series %q row %d is short", se.Name, i)
			}
			n, err := asInt64(row[1])
			if err != nil {
				return 0, fmt.Errorf("influxd: count: series %q row %d: %w", se.Name, i, err)
			}
			total += n
		}
	}
	return total, nil
}

// asInt64 converts a decoded count. Grouped queries answer null for empty
// intervals, which counts as 0.
func asInt64(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, fmt.Errorf("value %s is not a count", x)
		}
		return int64(f), nil
	default:
		return 0, fmt.Errorf("value %v (%T) is not a count", v, v)
	}
}

// Write sends line protocol to db with millisecond precision, the
// precision of every reading in the wire contract. It is for seeding test
// data; the services write through their own client.
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
