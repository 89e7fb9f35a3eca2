// Package influxtest starts a throwaway influxd (1.8) for integration tests.
//
// The binary comes from $CW_INFLUXD or .cache/bin/influxd under the module
// root. Without it, or under -short, the test is skipped, unless
// CW_REQUIRE_INTEGRATION=1 makes that a failure: CI must not pass silently
// because the server was missing.
package influxtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is a running influxd.
type Server struct {
	// URL is the HTTP base address, e.g. http://127.0.0.1:41234.
	URL string
}

// startTimeout bounds how long the server may take to answer /ping.
const startTimeout = 30 * time.Second

// Start runs influxd for the duration of the test and creates database db.
func Start(t testing.TB, db string) *Server {
	t.Helper()
	bin := binary()
	require := os.Getenv("CW_REQUIRE_INTEGRATION") == "1"
	if testing.Short() && !require {
		t.Skip("integration test: skipped under -short")
	}
	if _, err := os.Stat(bin); err != nil {
		if require {
			t.Fatalf("influxd not found at %q (set CW_INFLUXD): %v", bin, err)
		}
		t.Skipf("influxd not found at %q (set CW_INFLUXD or CW_REQUIRE_INTEGRATION=1 to fail)", bin)
	}
	dir := t.TempDir()
	httpAddr, rpcAddr := freeAddr(t), freeAddr(t)
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = %q
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = %q
  log-enabled = false
[logging]
  level = "warn"
`, rpcAddr, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpAddr)
	confPath := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	cmd := exec.Command(bin, "-config", confPath)
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start influxd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	s := &Server{URL: "http://" + httpAddr}
	if err := s.waitPing(done); err != nil {
		t.Fatalf("influxd: %v\n%s", err, logBuf.String())
	}
	if err := s.Exec("CREATE DATABASE " + quoteIdent(db)); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return s
}

func (s *Server) waitPing(exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/ping", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("exited before answering /ping")
		case <-ctx.Done():
			return fmt.Errorf("no answer on /ping within %s", startTimeout)
		case <-tick.C:
		}
	}
}

// Exec runs a statement that returns no data (CREATE, DROP).
func (s *Server) Exec(stmt string) error {
	resp, err := http.PostForm(s.URL+"/query", url.Values{"q": {stmt}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", stmt, resp.StatusCode)
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func binary() string {
	if p := os.Getenv("CW_INFLUXD"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".cache", "bin", "influxd")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Write posts line protocol (millisecond timestamps) to db in batches.
func (s *Server) Write(db string, lines []string) error {
	const batch = 5000
	for i := 0; i < len(lines); i += batch {
		body := strings.Join(lines[i:min(i+batch, len(lines))], "\n")
		resp, err := http.Post(s.URL+"/write?precision=ms&db="+url.QueryEscape(db), "text/plain", strings.NewReader(body))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("write: HTTP %d", resp.StatusCode)
		}
	}
	return nil
}
