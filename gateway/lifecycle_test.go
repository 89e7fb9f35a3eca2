package gateway

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// free reports whether addr can be bound again.
func free(t *testing.T, addr string) bool {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func lockFree(t *testing.T, dir string) bool {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: dir})
	if errors.Is(err, spool.ErrLocked) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	sp.Close()
	return true
}

// What New acquires, Close releases: the embedded broker's port, the HTTP
// port and the spool's directory lock. A New that fails part way (here: the
// HTTP port is taken) leaves none of them behind; Close is idempotent and
// works without Run; a second gateway on the same spool is refused.
func TestNewAndCloseReleaseEverything(t *testing.T) {
	r := newRig(t, 1, 0).embedded()
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	r.cfg.Local.Embedded.Listen = brokerAddr
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.cfg.HTTP.Listen = taken.Addr().String()
	reg := prometheus.NewRegistry()
	if _, err := New(Options{Config: r.cfg, Registerer: reg, Gatherer: reg}); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("New with a taken HTTP port: %v", err)
	}
	if !free(t, brokerAddr) {
		t.Error("a failed New left the embedded broker's port bound")
	}
	if !lockFree(t, r.cfg.Spool.Dir) {
		t.Error("a failed New left the spool locked")
	}
	taken.Close()

	reg = prometheus.NewRegistry()
	g, err := New(Options{Config: r.cfg, Registerer: reg, Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if free(t, brokerAddr) || free(t, r.cfg.HTTP.Listen) || lockFree(t, r.cfg.Spool.Dir) {
		t.Fatal("New did not hold its ports and the spool lock")
	}
	// Every metric the gateway registers follows Prometheus' conventions.
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	if _, err := New(Options{Config: r.cfg, Registerer: prometheus.NewRegistry()}); err == nil {
		t.Error("a second gateway started on the same ports and spool")
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if !free(t, brokerAddr) || !free(t, r.cfg.HTTP.Listen) || !lockFree(t, r.cfg.Spool.Dir) {
		t.Error("Close without Run left a port bound or the spool locked")
	}

	// After Run, the same.
	g, _ = r.gateway(Options{})
	stop := run(t, g)
	stop()
	if err := g.Close(); err != nil {
		t.Fatalf("Close after Run: %v", err)
	}
	if !free(t, brokerAddr) || !lockFree(t, r.cfg.Spool.Dir) {
		t.Error("Run and Close left the broker's port bound or the spool locked")
	}
}
