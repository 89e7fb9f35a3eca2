package influxql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxErrorBody bounds how much of an unexpected answer is quoted in an
// error.
const maxErrorBody = 4 << 10

// Epochs a Client can ask for: the precision of the time column.
const (
	// EpochMillis is the precision every reading is written with; it is the
	// default, and what Time expects.
	EpochMillis = "ms"
	// EpochNanos keeps InfluxDB's own precision, for tests that compare
	// stored times exactly.
	EpochNanos = "ns"
)

// Client runs InfluxQL statements against one database.
type Client struct {
	// URL is the server's base address (http://host:8086).
	URL string
	// Database is the database (1.x) or mapped bucket (2.x/3.x). Empty for
	// statements that name their database (CREATE DATABASE, SHOW
	// DATABASES).
	Database string
	// Token, when set, is sent as "Authorization: Token ..." (2.x/3.x; 1.8
	// accepts "user:password" there too).
	Token string
	// Username and Password, when Username is set and Token is not, are
	// sent as HTTP basic authentication (InfluxDB 1.x users).
	Username, Password string
	// Epoch is the precision of times in answers: EpochMillis (the default
	// when empty) or EpochNanos.
	Epoch string
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
}

// Series is one series of an answer. Values holds rows in Columns order:
// numbers are json.Number (exact for int64 counts and nanosecond times),
// strings and booleans as JSON decodes them, nil for a missing value.
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
// statements (a parse error, an unknown database, a type conflict): the
// statement was delivered and is wrong or refers to nothing, so sending it
// again will not help. Callers check for it with errors.As.
type QueryError struct {
	Query     string // the InfluxQL sent, for the message
	Statement int    // index of the failing statement, -1 for the whole request
	Message   string
}

func (e *QueryError) Error() string {
	if e.Statement < 0 {
		return fmt.Sprintf("influxql: %q: %s", e.Query, e.Message)
	}
	return fmt.Sprintf("influxql: %q: statement %d: %s", e.Query, e.Statement, e.Message)
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

// parse decodes a /query answer into the series of every statement, in
// order. The first statement error wins.
func parse(r io.Reader) ([]Series, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var w wireResponse
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("influxql: decode answer: %w", err)
	}
	if w.Error != "" {
		return nil, &QueryError{Statement: -1, Message: w.Error}
	}
	var out []Series
	for _, st := range w.Results {
		if st.Error != "" {
			return nil, &QueryError{Statement: st.StatementID, Message: st.Error}
		}
		out = append(out, st.Series...)
	}
	return out, nil
}

// Query runs InfluxQL and returns every series of the answer. It reads the
// whole answer before returning: InfluxDB sends "200 OK" before it runs the
// statements, so only the body says whether they worked.
func (c *Client) Query(ctx context.Context, q string) ([]Series, error) {
	epoch := c.Epoch
	if epoch == "" {
		epoch = EpochMillis
	}
	form := url.Values{"q": {q}, "epoch": {epoch}}
	if c.Database != "" {
		form.Set("db", c.Database)
	}
	// POST, because InfluxDB 1.x refuses writing statements (CREATE, DROP)
	// sent with GET, and SELECT works either way.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.URL, "/")+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("influxql: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch {
	case c.Token != "":
		req.Header.Set("Authorization", "Token "+c.Token)
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("influxql: query %q: %w", q, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("influxql: query %q: read answer: %w", q, err)
	}
	series, perr := parse(bytes.NewReader(body))
	var qe *QueryError
	if errors.As(perr, &qe) {
		qe.Query = q
		return nil, qe
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("influxql: query %q: status %s: %s", q, resp.Status, clip(body))
	}
	if perr != nil {
		return nil, fmt.Errorf("influxql: query %q: %w", q, perr)
	}
	return series, nil
}

// Count runs a `SELECT count(...)` query and returns the Sum of its answer:
// the count whether or not the query groups by tags or time. No series
// (InfluxDB's answer when nothing matches) counts as 0.
func (c *Client) Count(ctx context.Context, q string) (int64, error) {
	series, err := c.Query(ctx, q)
	if err != nil {
		return 0, err
	}
	return Sum(series)
}

func clip(b []byte) string {
	if len(b) > maxErrorBody {
		return string(b[:maxErrorBody]) + "..."
	}
	return string(b)
}
