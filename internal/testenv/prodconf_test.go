package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cradlewatch/cradlewatch/internal/influxd"
)

// TestProductionConfig starts mosquitto with deploy/mosquitto/mosquitto.conf,
// only paths and ports rewritten, and connects a gateway over TLS with a
// password: the file operators install must at least load and work.
func TestProductionConfig(t *testing.T) {
	Integration(t)
	bin, err := mosquittoBinary()
	if err != nil {
		missing(t, "mosquitto", err)
	}
	root, err := influxd.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "deploy", "mosquitto", "mosquitto.conf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pool := writeCerts(t, dir)
	pw, err := passwdFile(map[string]string{"f1": "gw-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(pw), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	tlsPort, plainPort := FreePort(t), FreePort(t)
	conf := string(src)
	for _, r := range []struct{ old, new string }{
		{"listener 8883\n", "listener " + strconv.Itoa(tlsPort) + " 127.0.0.1\n"},
		{"listener 1883 127.0.0.1\n", "listener " + strconv.Itoa(plainPort) + " 127.0.0.1\n"},
		{"/etc/mosquitto/certs/", dir + "/"},
		{"/etc/mosquitto/passwd", filepath.Join(dir, "passwd")},
		{"acl_file /etc/mosquitto/acl", "acl_file " + filepath.Join(root, "deploy", "mosquitto", "acl")},
		{"/var/lib/mosquitto/", filepath.Join(dir, "data") + "/"},
		{"log_dest syslog", "log_dest file " + filepath.Join(dir, "mosquitto.log")},
	} {
		if !strings.Contains(conf, r.old) {
			t.Fatalf("production config no longer contains %q; update this test", r.old)
		}
		conf = strings.ReplaceAll(conf, r.old, r.new)
	}
	if os.Geteuid() == 0 {
		conf += "user root\n"
	}
	b := &Broker{t: t, bin: bin, dir: dir, conf: filepath.Join(dir, "mosquitto.conf"),
		logPath: filepath.Join(dir, "mosquitto.log"), port: tlsPort, out: &tail{}}
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	if err := b.start(); err != nil {
		t.Fatalf("production config: %v", err)
	}

	o := mqtt.NewClientOptions().AddBroker("ssl://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))).
		SetClientID("g1").SetUsername("f1").SetPassword("gw-secret").SetAutoReconnect(false).
		SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("TLS connect: %v\nlog:\n%s", tok.Error(), b.Log())
	}
	c.Disconnect(250)

	// Anonymous clients are refused on the loopback listener too.
	o = mqtt.NewClientOptions().AddBroker("tcp://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(plainPort))).
		SetClientID("anon").SetAutoReconnect(false)
	c = mqtt.NewClient(o)
	if tok := c.Connect(); tok.WaitTimeout(30*time.Second) && tok.Error() == nil {
		c.Disconnect(250)
		t.Fatal("anonymous client connected")
	}
}

// writeCerts copies a fresh CA and server certificate (Certs) to the names
// the production configuration uses, and returns a pool trusting the CA.
func writeCerts(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	c := Certs(t, "gateway")
	for name, src := range map[string]string{"ca.crt": c.CA, "server.crt": c.ServerCert, "server.key": c.ServerKey} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pem, err := os.ReadFile(c.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return pool
}
