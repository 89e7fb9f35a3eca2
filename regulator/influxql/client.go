// Package influxql queries InfluxDB through the 1.x /query HTTP endpoint,
// which InfluxDB 1.8 serves natively and 2.x and 3.x serve as v1
// compatibility: the one query path that works on all three.
package influxql

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client runs InfluxQL statements against one database.
type Client struct {
	// URL is the server's base address (http://host:8086).
	URL string
	// Database is the database (1.x) or mapped bucket (2.x/3.x).
	Database string
	// Token, when set, is sent as "Authorization: Token ..." (2.x/3.x; on
	// 1.8 use "user:password").
	Token string
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
}

// Series is one series of a result.
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// QueryError is an error the server reported for a statement: the
// statement was delivered and is wrong (or refers to nothing), so retrying
// will not help.
type QueryError struct {
	Statement string
	Message   string
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("influxql: %q: %s", e.Statement, e.Message)
}

type response struct {
	Results []struct {
		Series []Series `json:"series"`
		Error  string   `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

// Query runs one statement and returns its series, times as epoch
// milliseconds (the precision points are written with).
func (c *Client) Query(ctx context.Context, q string) ([]Series, error) {
	form := url.Values{"q": {q}, "db": {c.Database}, "epoch": {"ms"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.URL, "/")+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("influxql: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.Token != "" {
		req.Header.Set("Authorization", "Token "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("influxql: query: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("influxql: read answer: %w", err)
	}
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("influxql: HTTP %d, cannot decode answer: %w", resp.StatusCode, err)
	}
	if r.Error != "" {
		return nil, &QueryError{Statement: q, Message: r.Error}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("influxql: HTTP %d", resp.StatusCode)
	}
	var out []Series
	for _, res := range r.Results {
		if res.Error != "" {
			return nil, &QueryError{Statement: q, Message: res.Error}
		}
		out = append(out, res.Series...)
	}
	return out, nil
}

// Col returns the index of column name, or -1.
func (s Series) Col(name string) int {
	for i, c := range s.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// Float reads a numeric cell; ok is false for null.
func Float(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// Time reads the time column (epoch=ms).
func Time(v any) time.Time {
	f, _ := Float(v)
	return time.UnixMilli(int64(f))
}

// Literal quotes a string for use as a tag value in a WHERE clause.
func Literal(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// TimeRange renders "time >= from AND time < to" in nanoseconds.
func TimeRange(from, to time.Time) string {
	return fmt.Sprintf("time >= %d AND time < %d", from.UnixNano(), to.UnixNano())
}
