package influxproxy

import (
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access/setup"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/internal/config"
)

// Config is the proxy's YAML (configs/influxproxy.example.yaml documents
// every key).
type Config struct {
	// Listen is where Grafana connects. Nothing but Grafana may reach it:
	// bind it to loopback when Grafana runs on the same host, otherwise
	// firewall it to Grafana's address and set TLS.
	Listen string    `mapstructure:"listen"`
	TLS    TLSConfig `mapstructure:"tls"`
	// Database is the one database queries may read (Grafana's dbName).
	Database string         `mapstructure:"database"`
	Upstream UpstreamConfig `mapstructure:"upstream"`
	// GrafanaAuth is the service credential Grafana's datasource sends
	// (basic auth); only requests carrying it are believed about
	// X-Grafana-User.
	GrafanaAuth GrafanaAuthConfig `mapstructure:"grafana_auth"`
	// UsersSource says where Grafana logins are mapped to regions:
	// UsersSourceFile (UsersFile, read at start) or UsersSourceAccess (the
	// access database's accounts, AccessResolver).
	UsersSource string `mapstructure:"users_source"`
	// UsersFile maps Grafana logins to regions (see UsersFile).
	UsersFile string `mapstructure:"users_file"`
	// UsersCacheTTL is how long an answer of the access database is used:
	// how stale a login's region may be.
	UsersCacheTTL time.Duration `mapstructure:"users_cache_ttl"`
	// Access names the access database (UsersSourceAccess).
	Access AccessConfig `mapstructure:"access"`
	// ExtraMeasurements may be read besides DefaultMeasurements; each
	// must carry the region tags.
	ExtraMeasurements []string   `mapstructure:"extra_measurements"`
	HTTP              HTTPConfig `mapstructure:"http"`
	Log               LogConfig  `mapstructure:"log"`
}

// Where logins are mapped to regions (users_source).
const (
	UsersSourceFile   = "file"
	UsersSourceAccess = "access"
)

// AccessConfig is the proxy's "access" section: the access database of the
// console (the same keys as the console's access.database).
type AccessConfig struct {
	Database setup.DatabaseConfig `mapstructure:"database"`
}

// TLSConfig serves the Grafana-facing listener over TLS when both files
// are set.
type TLSConfig struct {
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// UpstreamConfig is the InfluxDB the proxy forwards to, with a read-only
// account (1.x: username and password; 2.x/3.x v1 compatibility: token).
type UpstreamConfig struct {
	URL      string        `mapstructure:"url"`
	Username string        `mapstructure:"username"`
	Password string        `mapstructure:"password"`
	Token    string        `mapstructure:"token"`
	Timeout  time.Duration `mapstructure:"timeout"`
}

// GrafanaAuthConfig is the basic-auth pair Grafana's datasource sends.
type GrafanaAuthConfig struct {
	User     string `mapstructure:"user"`
	Password string `mapstructure:"password"`
}

// HTTPConfig is the operational endpoint (/metrics, /healthz, /readyz).
type HTTPConfig struct {
	Listen string `mapstructure:"listen"` // loopback only; empty disables
}

// LogConfig selects the log format and level.
type LogConfig struct {
	Format string `mapstructure:"format"` // text or json
	Level  string `mapstructure:"level"`  // debug, info, warn, error
}

// DefaultConfig holds the documented defaults.
func DefaultConfig() Config {
	return Config{
		Listen:        "127.0.0.1:8087",
		Database:      "cradlewatch",
		Upstream:      UpstreamConfig{URL: "http://127.0.0.1:8086", Timeout: 60 * time.Second},
		GrafanaAuth:   GrafanaAuthConfig{User: "grafana"},
		UsersSource:   UsersSourceFile,
		UsersFile:     "configs/influxproxy-users.example.yaml",
		UsersCacheTTL: DefaultUsersCacheTTL,
		Access:        AccessConfig{Database: setup.DatabaseConfig{Driver: store.DriverSQLite}},
		HTTP:          HTTPConfig{Listen: "127.0.0.1:9104"},
		Log:           LogConfig{Format: "text", Level: "info"},
	}
}

// maxUsersCacheTTL bounds users_cache_ttl: a disabled account must stop
// reading within minutes, not hours.
const maxUsersCacheTTL = 10 * time.Minute

// minSecretLen is the shortest service password accepted.
const minSecretLen = 16

// placeholders are fragments of example passwords that must never run.
var placeholders = []string{"change-me", "change_me", "changeme", "placeholder", "example", "password", "secret", "${", "<", ">"}

// Validate implements config.Validator.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return config.Errorf("listen", "%v", err)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return config.Errorf("tls", "set both cert_file and key_file, or neither")
	}
	if c.Database == "" {
		return config.Errorf("database", "empty")
	}
	if u, err := url.Parse(c.Upstream.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return config.Errorf("upstream.url", "want http(s)://host:port, got %q", c.Upstream.URL)
	}
	if c.Upstream.Token != "" && (c.Upstream.Username != "" || c.Upstream.Password != "") {
		return config.Errorf("upstream.token", "set either a token or username and password")
	}
	if c.Upstream.Timeout <= 0 {
		return config.Errorf("upstream.timeout", "must be positive")
	}
	if c.GrafanaAuth.User == "" {
		return config.Errorf("grafana_auth.user", "empty")
	}
	if err := checkSecret(c.GrafanaAuth.User, c.GrafanaAuth.Password); err != "" {
		return config.Errorf("grafana_auth.password", "%s (set it with CW_GRAFANA_AUTH_PASSWORD, the same value as the datasource's basic-auth password)", err)
	}
	switch c.UsersSource {
	case UsersSourceFile:
		if c.UsersFile == "" {
			return config.Errorf("users_file", "empty")
		}
	case UsersSourceAccess:
		if c.UsersCacheTTL <= 0 || c.UsersCacheTTL > maxUsersCacheTTL {
			return config.Errorf("users_cache_ttl", "%v: want more than 0 and at most %v (it bounds how long a disabled account still reads)", c.UsersCacheTTL, maxUsersCacheTTL)
		}
		if err := c.Access.Database.Validate("access.database"); err != nil {
			return err
		}
	default:
		return config.Errorf("users_source", "%q: want %s (users_file) or %s (the access database)", c.UsersSource, UsersSourceFile, UsersSourceAccess)
	}
	for _, m := range c.ExtraMeasurements {
		if m == "" {
			return config.Errorf("extra_measurements", "empty name")
		}
	}
	if c.HTTP.Listen != "" && !loopback(c.HTTP.Listen) {
		return config.Errorf("http.listen", "%q: the operational listener (metrics, profiling) must be on loopback (127.0.0.1 or [::1])", c.HTTP.Listen)
	}
	return nil
}

// checkSecret returns why password is unfit, or "".
func checkSecret(user, password string) string {
	switch {
	case password == "":
		return "empty"
	case len(password) < minSecretLen:
		return "shorter than 16 characters"
	case password == user:
		return "the same as the user"
	}
	low := strings.ToLower(password)
	for _, p := range placeholders {
		if strings.Contains(low, p) {
			return "a placeholder (contains " + p + "), not a secret"
		}
	}
	return ""
}

// loopback reports whether a host:port listens on loopback only.
func loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
