package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvPostgresBin names the variable pointing at PostgreSQL's bin directory
// (initdb, postgres, pg_isready, psql).
const EnvPostgresBin = "CW_POSTGRES_BIN"

// postgresDebianBin is where Debian's postgresql-15 package puts the server.
const postgresDebianBin = "/usr/lib/postgresql/15/bin"

const (
	postgresReadyTimeout = 30 * time.Second
	postgresStopGrace    = 10 * time.Second
	postgresPoll         = 50 * time.Millisecond
	postgresUser         = "postgres" // the superuser initdb creates, and the OS user Debian's package creates
)

// PostgresServer is a PostgreSQL server of its own: a fresh cluster in a
// temporary directory, listening on a loopback port, trusting local
// connections (tests only), stopped and removed when the test ends.
type PostgresServer struct {
	t    testing.TB
	bin  string
	dir  string // cluster root: data/ and the socket
	port int
	out  *tail
	proc *process
}

// Postgres starts a PostgreSQL server for t. Debian's postgresql-15
// package provides it (scripts/install-deps.sh installs it), or
// $CW_POSTGRES_BIN names another bin directory. initdb and postgres refuse
// to run as root, so as root they run as the "postgres" user the package
// creates, on a data directory that user owns. fsync is off: the tests
// are about SQL and behaviour, not about surviving a power cut.
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	Integration(t)
	bin, err := postgresBin()
	if err != nil {
		missing(t, "postgresql", err)
	}
	dir, err := os.MkdirTemp("", "cw-postgres-")
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	s := &PostgresServer{t: t, bin: bin, dir: dir, out: &tail{}}
	t.Cleanup(func() {
		s.Stop()
		os.RemoveAll(dir)
	})
	if err := asPostgresUser(nil, dir); err != nil {
		t.Fatalf("postgres: %v", err)
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.dataDir(), "-U", postgresUser,
		"--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
	if err := asPostgresUser(initdb, ""); err != nil {
		t.Fatalf("postgres: %v", err)
	}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("postgres: initdb: %v\n%s", err, out)
	}
	for attempt := 1; ; attempt++ {
		s.port = FreePort(t)
		err := s.start()
		if err == nil {
			return s
		}
		if attempt == 3 || !strings.Contains(s.out.String(), "could not bind") {
			t.Fatalf("postgres: %v", err)
		}
		t.Logf("postgres: port %d taken before the server bound it; retrying", s.port)
	}
}

func postgresBin() (string, error) {
	dir := os.Getenv(EnvPostgresBin)
	if dir == "" {
		dir = postgresDebianBin
	}
	for _, name := range []string{"initdb", "postgres", "pg_isready", "psql"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("%s (set $%s to PostgreSQL's bin directory): %w", name, EnvPostgresBin, err)
		}
	}
	return dir, nil
}

func (s *PostgresServer) dataDir() string { return filepath.Join(s.dir, "data") }

func (s *PostgresServer) start() error {
	s.out.reset()
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.dataDir(), "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=50", "-c", "shared_buffers=32MB")
	cmd.SysProcAttr = sysProcAttr()
	if err := asPostgresUser(cmd, ""); err != nil {
		return err
	}
	p, err := startCmd(cmd, s.out)
	if err != nil {
		return err
	}
	s.proc = p
	deadline := time.NewTimer(postgresReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(postgresPoll)
	defer tick.Stop()
	for {
		// pg_isready answers 0 only once the server accepts queries (a TCP
		// connect succeeds earlier, while it is still starting up).
		ready := exec.Command(filepath.Join(s.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", postgresUser)
		if ready.Run() == nil {
			return nil
		}
		select {
		case <-p.done:
			s.proc = nil
			return fmt.Errorf("exited before accepting connections on port %d (%v); output:\n%s", s.port, p.err, s.out)
		case <-deadline.C:
			s.proc.kill()
			s.proc = nil
			return fmt.Errorf("not ready on port %d after %v; output:\n%s", s.port, postgresReadyTimeout, s.out)
		case <-tick.C:
		}
	}
}

// Port is the server's TCP port on 127.0.0.1.
func (s *PostgresServer) Port() int { return s.port }

// DSN is a connection URL for database db as the superuser.
func (s *PostgresServer) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", postgresUser, s.port, db)
}

var postgresIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// CreateDatabase creates an empty database and returns its DSN. Tests
// sharing one server give each case a database of its own.
func (s *PostgresServer) CreateDatabase(name string) string {
	s.t.Helper()
	if !postgresIdent.MatchString(name) {
		s.t.Fatalf("postgres: database name %q: want lower-case letters, digits and _", name)
	}
	psql := exec.Command(filepath.Join(s.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", postgresUser, "-d", "postgres",
		"-c", "CREATE DATABASE "+name)
	if out, err := psql.CombinedOutput(); err != nil {
		s.t.Fatalf("postgres: create database %s: %v\n%s", name, err, out)
	}
	return s.DSN(name)
}

// Log returns the server's recent output, for failure messages.
func (s *PostgresServer) Log() string { return s.out.String() }

// Stop shuts the server down (fast shutdown: SIGINT, open sessions are
// ended) and waits. Stopping a stopped server does nothing.
func (s *PostgresServer) Stop() {
	s.t.Helper()
	p := s.proc
	if p == nil {
		return
	}
	s.proc = nil
	if !p.stopWith(os.Interrupt, postgresStopGrace) {
		s.t.Errorf("postgres ignored SIGINT for %v and was killed", postgresStopGrace)
	}
}

// Start starts a stopped server again on the same port and data.
func (s *PostgresServer) Start() {
	s.t.Helper()
	if s.proc != nil {
		s.t.Fatalf("postgres: Start: already running")
	}
	if err := s.start(); err != nil {
		s.t.Fatalf("postgres: %v", err)
	}
}

var errPostgresRoot = errors.New("postgres refuses to run as root, and this platform cannot switch to the postgres user; run the tests as another user")
