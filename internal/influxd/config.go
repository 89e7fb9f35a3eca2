package influxd

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// layout is where one server keeps its files under Options.DataDir.
type layout struct {
	config, meta, data, wal string
}

func layoutOf(dataDir string) layout {
	return layout{
		config: filepath.Join(dataDir, "influxd.conf"),
		meta:   filepath.Join(dataDir, "meta"),
		data:   filepath.Join(dataDir, "data"),
		wal:    filepath.Join(dataDir, "wal"),
	}
}

// renderConfig writes the TOML configuration of a test server. Everything
// that would make the server talk to the outside world (usage reporting),
// write on its own (the _internal monitor database) or flood the test log
// (HTTP and query logs) is off, so that a test's database holds only what
// the test wrote and failures show only influxd's warnings.
func renderConfig(l layout, httpPort, rpcPort int) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("reporting-disabled = true")
	p("bind-address = %s", quote(hostPort(rpcPort)))
	p("")
	p("[meta]")
	p("  dir = %s", quote(l.meta))
	p("  retention-autocreate = true")
	p("  logging-enabled = false")
	p("")
	p("[data]")
	p("  dir = %s", quote(l.data))
	p("  wal-dir = %s", quote(l.wal))
	p("  index-version = \"inmem\"")
	p("  query-log-enabled = false")
	p("  trace-logging-enabled = false")
	p("")
	p("[monitor]")
	p("  store-enabled = false")
	p("")
	p("[http]")
	p("  enabled = true")
	p("  bind-address = %s", quote(hostPort(httpPort)))
	p("  auth-enabled = false")
	p("  log-enabled = false")
	p("  suppress-write-log = true")
	p("  flux-enabled = false")
	p("  pprof-enabled = false")
	p("")
	p("[continuous_queries]")
	p("  log-enabled = false")
	p("")
	p("[logging]")
	p("  level = \"warn\"")
	p("  suppress-logo = true")
	return b.String()
}

func hostPort(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// quote renders a TOML basic string.
func quote(s string) string {
	return strconv.Quote(s) // Go escapes are a subset TOML accepts for paths and addresses
}

// freePort asks the kernel for an unused loopback port. The port is free
// when this returns, not necessarily when the server binds it; Start
// retries with fresh ports when influxd reports the address in use.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("influxd: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
