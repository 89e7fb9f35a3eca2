// Package influxwrite is CradleWatch's one way of writing InfluxDB: line
// protocol through influxdb-client-go's blocking write API, with errors
// classified so that callers retry what can succeed later and bisect what
// the database refuses.
package influxwrite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unsafe"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/cradlewatch/cradlewatch/internal/influxql"
)

// writeBufferSize is the HTTP connection's write buffer. A write body that
// fits goes to the socket in one system call together with the request
// headers; net/http otherwise sends it in 32 KiB pieces. It covers the
// collector's default writes (5,000 lines of about 150 bytes); larger ones
// still work, in pieces.
const writeBufferSize = 1 << 20

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

// ErrTooLarge marks HTTP 413: split and retry.
var ErrTooLarge = errors.New("write too large")

// ErrDatabaseNotFound marks HTTP 404 "database not found". It is transient:
// a write can race the creation of the database (by this service's
// create_database, an installer or another service), and a database created
// meanwhile takes the same write. Callers retry it like a network error
// and count the retry.
var ErrDatabaseNotFound = errors.New("database not found")

// InfluxSink writes through influxdb-client-go's blocking write API: no
// hidden retry buffer, every error comes back to the caller (PITFALLS.md).
type InfluxSink struct {
	client influxdb2.Client
	write  api.WriteAPIBlocking
}

// Config addresses the database. Version 1 uses database, retention policy
// and username/password; version 2 (also InfluxDB 3) uses org, bucket and
// token. Both go through the /api/v2/write endpoint.
type Config struct {
	URL             string        `mapstructure:"url"`
	Version         int           `mapstructure:"version"`
	Database        string        `mapstructure:"database"`
	RetentionPolicy string        `mapstructure:"retention_policy"`
	Username        string        `mapstructure:"username"`
	Password        string        `mapstructure:"password"`
	Org             string        `mapstructure:"org"`
	Bucket          string        `mapstructure:"bucket"`
	Token           string        `mapstructure:"token"`
	Gzip            bool          `mapstructure:"gzip"`
	Timeout         time.Duration `mapstructure:"timeout"`
	CreateDatabase  bool          `mapstructure:"create_database"`
}

// DefaultConfig is a local InfluxDB 1.x with database cradlewatch.
func DefaultConfig() Config {
	return Config{URL: "http://127.0.0.1:8086", Version: 1, Database: "cradlewatch", RetentionPolicy: "autogen", Timeout: 10 * time.Second}
}

// Validate returns the key (relative to the influx section) and the problem.
func (c Config) Validate() (key string, err error) {
	u, perr := url.Parse(c.URL)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "url", fmt.Errorf("%q is not an http(s) URL", c.URL)
	}
	switch c.Version {
	case 1:
		if c.Database == "" {
			return "database", errors.New("empty (required with version 1)")
		}
	case 2:
		if c.Bucket == "" {
			return "bucket", errors.New("empty (required with version 2)")
		}
	default:
		return "version", fmt.Errorf("%d: want 1 (InfluxDB 1.x) or 2 (InfluxDB 2.x/3.x)", c.Version)
	}
	if c.Timeout <= 0 {
		return "timeout", errors.New("must be positive")
	}
	return "", nil
}

// bucket is what the v2 write API calls the destination.
func (c Config) bucket() string {
	if c.Version == 1 {
		if c.RetentionPolicy == "" {
			return c.Database
		}
		return c.Database + "/" + c.RetentionPolicy
	}
	return c.Bucket
}

// token is the v2 Authorization token; InfluxDB 1.x takes "user:password".
func (c Config) token() string {
	if c.Version == 1 {
		if c.Username == "" {
			return ""
		}
		return c.Username + ":" + c.Password
	}
	return c.Token
}

// NewInfluxSink builds the client once; the write API is reused for every
// write (creating one per write leaks).
func NewInfluxSink(c Config) *InfluxSink {
	// Our own http.Client: the exact timeout (the client's option takes
	// whole seconds) and a write buffer that takes a whole write at once.
	hc := &http.Client{
		Timeout: c.Timeout,
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			TLSHandshakeTimeout: 5 * time.Second,
			MaxIdleConns:        100,
			MaxIdleConnsPerHost: 100,
			IdleConnTimeout:     90 * time.Second,
			WriteBufferSize:     writeBufferSize,
		},
	}
	opts := influxdb2.DefaultOptions().
		SetPrecision(time.Millisecond).
		SetUseGZip(c.Gzip).
		SetHTTPClient(hc).
		SetMaxRetries(0)
	cl := influxdb2.NewClientWithOptions(c.URL, c.token(), opts)
	return &InfluxSink{client: cl, write: cl.WriteAPIBlocking(c.Org, c.bucket())}
}

// Write implements Sink.
//
// The write API takes line protocol as a string. Converting lines would
// copy every write body (about 150 bytes a reading, a visible share of the
// collector's CPU and garbage), so the string shares lines' memory. That is
// safe because nothing keeps it after WriteRecord returns: the blocking API
// joins a single record without copying, sends it as the request body and
// closes the response (and with it the request) before returning, and
// lines is not changed while the call runs.
func (s *InfluxSink) Write(ctx context.Context, lines []byte) error {
	body := bytes.TrimSuffix(lines, []byte("\n"))
	if len(body) == 0 {
		return nil
	}
	err := s.write.WriteRecord(ctx, unsafe.String(unsafe.SliceData(body), len(body)))
	if err == nil {
		return nil
	}
	var he *ihttp.Error
	if errors.As(err, &he) {
		switch {
		case he.StatusCode == http.StatusBadRequest || he.StatusCode == http.StatusUnprocessableEntity:
			return fmt.Errorf("%w: %v", ErrBadData, err)
		case he.StatusCode == http.StatusRequestEntityTooLarge:
			return fmt.Errorf("%w: %v", ErrTooLarge, err)
		case he.StatusCode == http.StatusNotFound && strings.Contains(he.Message, "database not found"):
			return fmt.Errorf("%w: %v", ErrDatabaseNotFound, err)
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

// CreateDatabase runs CREATE DATABASE on an InfluxDB 1.x (idempotent) and
// returns once the server lists the database, so the first write after it
// does not race the creation (internal/influxql explains the race).
func CreateDatabase(ctx context.Context, c Config) error {
	// A transport of its own, closed on return: no idle connection
	// outlives the call.
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment}
	defer tr.CloseIdleConnections()
	q := influxql.Client{URL: c.URL, Username: c.Username, Password: c.Password, HTTP: &http.Client{Timeout: c.Timeout, Transport: tr}}
	if err := q.CreateDatabase(ctx, c.Database); err != nil {
		return fmt.Errorf("influxdb: %w", err)
	}
	return nil
}
