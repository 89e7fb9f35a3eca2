package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"time"
)

// Sink stores newline-terminated line protocol with millisecond timestamps.
// It is the seam between the collector's pipeline and the database.
type Sink interface {
	Write(ctx context.Context, lines []byte) error
}

// ErrBadData marks a write the database refused because of its content
// (HTTP 400: unparsable line, field type conflict, points beyond the
// retention policy). Writing the same lines again cannot succeed; the
// collector bisects the write to find and reject the bad points.
var ErrBadData = errors.New("database refused the data")

// errTooLarge marks HTTP 413: split and retry.
var errTooLarge = errors.New("write too large")

// InfluxSink writes through influxdb-client-go's blocking write API: no
// hidden retry buffer, every error comes back to the caller (PITFALLS.md).
type InfluxSink struct {
	client influxdb2.Client
	write  api.WriteAPIBlocking
}

// NewInfluxSink builds the client once; the write API is reused for every
// write (creating one per write leaks).
func NewInfluxSink(c InfluxConfig) *InfluxSink {
	opts := influxdb2.DefaultOptions().
		SetPrecision(time.Millisecond).
		SetUseGZip(c.Gzip).
		SetHTTPRequestTimeout(uint(c.Timeout / time.Second)).
		SetMaxRetries(0)
	cl := influxdb2.NewClientWithOptions(c.URL, c.token(), opts)
	return &InfluxSink{client: cl, write: cl.WriteAPIBlocking(c.Org, c.bucket())}
}

// Write implements Sink.
func (s *InfluxSink) Write(ctx context.Context, lines []byte) error {
	err := s.write.WriteRecord(ctx, strings.TrimSuffix(string(lines), "\n"))
	if err == nil {
		return nil
	}
	var he *ihttp.Error
	if errors.As(err, &he) {
		switch {
		case he.StatusCode == http.StatusBadRequest || he.StatusCode == http.StatusUnprocessableEntity:
			return fmt.Errorf("%w: %v", ErrBadData, err)
		case he.StatusCode == http.StatusRequestEntityTooLarge:
			return fmt.Errorf("%w: %v", errTooLarge, err)
		}
	}
	return err
}

// Ping checks that the database answers.
func (s *InfluxSink) Ping(ctx context.Context) error {
	ok, err := s.client.Ping(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("influxdb: ping failed")
	}
	return nil
}

// Close releases the client's connections.
func (s *InfluxSink) Close() { s.client.Close() }

// createDatabase runs CREATE DATABASE on an InfluxDB 1.x (idempotent).
func createDatabase(ctx context.Context, c InfluxConfig) error {
	q := url.Values{"q": {fmt.Sprintf("CREATE DATABASE %q", c.Database)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+"/query?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if c.Username != "" {
		req.SetBasicAuth(c.Username, c.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("influxdb: create database: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("influxdb: create database: HTTP %d", resp.StatusCode)
	}
	return nil
}
