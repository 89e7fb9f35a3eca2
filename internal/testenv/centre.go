package testenv

import (
	"context"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/centrebroker"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/mosquittoconf"
)

// CentreBroker is the centre's Mosquitto as deploy/mosquitto/mosquitto.conf
// configures it (only ports and paths rewritten), with identities written
// by internal/centrebroker, running under the log watcher.
type CentreBroker struct {
	// TLSAddr is the gateways' listener (ssl://127.0.0.1:<port>), PlainAddr
	// the services' loopback listener (tcp://127.0.0.1:<port>).
	TLSAddr, PlainAddr string
	// CAFile signed the TLS listener's certificate for 127.0.0.1; CAPool
	// trusts it.
	CAFile string
	CAPool *x509.CertPool
	// Identities are the accounts the broker knows.
	Identities *centrebroker.Identities
	// Metrics holds the watcher's counters (cw_broker_denied_total, ...).
	Metrics *prometheus.Registry
}

// Centre starts the centre's broker for t with an account per gateway of
// facilities and the service accounts, with the given passwords (username
// → password; accounts without one get a random password, in
// Identities.New), and stops it when the test ends. It writes as many
// alerting-<n> and console-<n> accounts as the passwords name (at least
// one of each).
func Centre(t testing.TB, facilities []centrebroker.Facility, passwords map[string]string) *CentreBroker {
	t.Helper()
	shards, consoles := 1, 1
	for user := range passwords {
		for prefix, n := range map[string]*int{centrebroker.AlertingPrefix + "-": &shards, centrebroker.ConsolePrefix + "-": &consoles} {
			if rest, ok := strings.CutPrefix(user, prefix); ok {
				if i, err := strconv.Atoi(rest); err == nil && i >= *n {
					*n = i + 1
				}
			}
		}
	}
	return CentreWith(t, centrebroker.Options{Facilities: facilities, Passwords: passwords, Shards: shards, Consoles: consoles})
}

// CentreWith starts the centre's broker for t with the identities o
// generates (o.Facilities, o.Passwords, o.Shards, o.Consoles, ...), and
// stops it when the test ends.
func CentreWith(t testing.TB, o centrebroker.Options) *CentreBroker {
	t.Helper()
	bin := MosquittoBinary(t)
	plugin := DynsecPlugin(t)
	root, err := influxd.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "deploy", "mosquitto", "mosquitto.conf"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := centrebroker.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	dynsec, err := centrebroker.RenderDynsec(id)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "centre")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	dynsecPath := filepath.Join(dir, "dynamic-security.json")
	if err := os.WriteFile(dynsecPath, dynsec, 0o600); err != nil {
		t.Fatal(err)
	}
	certs := Certs(t, "gateway")
	tlsPort, plainPort := FreePort(t), FreePort(t)
	conf, err := mosquittoconf.RenderCentre(string(src), mosquittoconf.Centre{
		TLSPort: tlsPort, PlainPort: plainPort, ServerCert: certs.ServerCert, ServerKey: certs.ServerKey, CA: certs.CA,
		Plugin: plugin, Dynsec: dynsecPath, DataDir: filepath.Join(dir, "data"),
	})
	if err != nil {
		t.Fatalf("%v; update internal/mosquittoconf", err)
	}
	confPath := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	wills, err := centrebroker.DynsecWillCheck(dynsec)
	if err != nil {
		t.Fatal(err)
	}
	c := &CentreBroker{
		TLSAddr:    "ssl://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort)),
		PlainAddr:  "tcp://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(plainPort)),
		CAFile:     certs.CA,
		Identities: id,
		Metrics:    prometheus.NewRegistry(),
	}
	pem, err := os.ReadFile(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	c.CAPool = x509.NewCertPool()
	c.CAPool.AppendCertsFromPEM(pem)
	watcher := centrebroker.NewWatcher(centrebroker.WatcherOptions{Forward: t.Output(), Registerer: c.Metrics, Wills: wills})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- centrebroker.Supervise(ctx, centrebroker.SuperviseOptions{Command: []string{bin, "-c", confPath}, Watcher: watcher})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("centre broker: %v", err)
		}
	})
	deadline := time.NewTimer(brokerReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(brokerPoll)
	defer tick.Stop()
	for _, port := range []int{tlsPort, plainPort} {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		for {
			if conn, err := net.Dial("tcp", addr); err == nil {
				conn.Close()
				break
			}
			select {
			case err := <-done:
				done <- err // for the cleanup
				t.Fatalf("centre broker exited before listening on %s: %v", addr, err)
			case <-deadline.C:
				t.Fatalf("centre broker not listening on %s after %v", addr, brokerReadyTimeout)
			case <-tick.C:
			}
		}
	}
	return c
}

// WaitDenied waits until cw_broker_denied_total{action} reaches want (the
// watcher reads the broker's log as the broker writes it) and fails t if
// it passes want or does not reach it within the broker's ready timeout.
func (c *CentreBroker) WaitDenied(t testing.TB, action string, want float64) {
	t.Helper()
	deadline := time.NewTimer(brokerReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(brokerPoll)
	defer tick.Stop()
	for {
		got := Metric(t, c.Metrics, "cw_broker_denied_total", "action", action)
		if got == want {
			return
		}
		if got > want {
			t.Fatalf("cw_broker_denied_total{action=%q} = %v, want %v", action, got, want)
		}
		select {
		case <-deadline.C:
			t.Fatalf("cw_broker_denied_total{action=%q} = %v after %v, want %v", action, got, brokerReadyTimeout, want)
		case <-tick.C:
		}
	}
}
