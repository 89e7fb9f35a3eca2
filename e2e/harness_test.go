package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/gateway"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
)

// envGatewayConfig makes the test binary run a gateway instead of tests
// (see TestMain), so a test can SIGKILL a real gateway process.
const envGatewayConfig = "CW_E2E_GATEWAY_CONFIG"

const db = "cradlewatch"

func TestMain(m *testing.M) {
	if path := os.Getenv(envGatewayConfig); path != "" {
		os.Exit(runGatewayProcess(path))
	}
	goleak.VerifyTestMain(m)
}

func runGatewayProcess(path string) int {
	cfg := gateway.DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	g, err := gateway.New(gateway.Options{Config: cfg, Logger: log, Registerer: prometheus.NewRegistry()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if err := g.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// facilityYAML is a facility with n generic-JSON devices test-0..test-n-1.
func facilityYAML(id, region, gateway string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "facility: {id: %q, name: 测试园, region: %q, timezone: Asia/Shanghai, opening_hours: [\"mon-fri 07:30-18:00\"]}\n", id, region)
	fmt.Fprintf(&b, "gateways: [%s]\n", gateway)
	b.WriteString("rooms:\n  - {id: room-1, name: 乳儿班, type: infant}\ndevices:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {id: dev-%d, room: room-1, source: load, address: \"d%d\", kinds: [temperature], interval: 10s}\n", i, i)
	}
	return b.String()
}

// gatewayYAML configures a gateway whose sources are generic JSON mappings
// with a millisecond timestamp (gatewayConf), so every test message is a
// distinct point in InfluxDB; one broker serves as local and central.
func gatewayYAML(gatewayID, facilityFile, broker, spoolDir string) string {
	return gatewayConf{id: gatewayID, facilityFile: facilityFile, local: broker, uplink: broker, spoolDir: spoolDir}.yaml()
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// gatewayProcess runs the gateway as a child process.
type gatewayProcess struct {
	t    *testing.T
	conf string
	cmd  *exec.Cmd
	log  *os.File
}

func startGatewayProcess(t *testing.T, conf string) *gatewayProcess {
	g := &gatewayProcess{t: t, conf: conf}
	f, err := os.Create(conf + ".log")
	if err != nil {
		t.Fatal(err)
	}
	g.log = f
	t.Cleanup(func() { g.kill(); f.Close() })
	g.start()
	return g
}

func (g *gatewayProcess) start() {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envGatewayConfig+"="+g.conf)
	cmd.Stdout, cmd.Stderr = g.log, g.log
	if err := cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	g.cmd = cmd
}

func (g *gatewayProcess) kill() {
	if g.cmd == nil {
		return
	}
	g.cmd.Process.Signal(syscall.SIGKILL)
	g.cmd.Wait()
	g.cmd = nil
}

func (g *gatewayProcess) stop() {
	if g.cmd == nil {
		return
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	g.cmd.Wait()
	g.cmd = nil
}

func (g *gatewayProcess) output() string {
	b, _ := os.ReadFile(g.conf + ".log")
	return string(b)
}

// startCollector runs a collector in this process until the test ends,
// over the facility registry folder facilities (registryOf).
func startCollector(t *testing.T, broker string, inf *influxd.Server, id, facilities string) {
	startCollectorAs(t, mqttx.Config{Broker: broker, ClientID: id}, inf, facilities)
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// waitCount polls an InfluxQL count until it reaches want or the deadline
// passes, and returns the last count. The deadline bounds the test; the
// assertion is on the count, not on the time.
func waitCount(t *testing.T, inf *influxd.Server, q string, want int64, deadline time.Duration) int64 {
	t.Helper()
	ctx := context.Background()
	end := time.Now().Add(deadline)
	var n int64
	for {
		got, err := inf.Count(ctx, db, q)
		if err == nil {
			n = got
		}
		if n >= want || time.Now().After(end) {
			return n
		}
		time.Sleep(250 * time.Millisecond)
	}
}
