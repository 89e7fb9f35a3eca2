// Package mosquittoconf finds Mosquitto on this machine and rewrites the
// configurations of deploy/mosquitto for a broker on loopback, so that test
// harnesses (internal/testenv, the chaos suite) run the broker as it is
// deployed, with only ports and paths changed.
package mosquittoconf

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// EnvBinary names the variable pointing at a mosquitto executable.
const EnvBinary = "CW_MOSQUITTO"

// Binary finds the broker: $CW_MOSQUITTO, Debian's path, then PATH.
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$%s: %w", EnvBinary, err)
		}
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto", nil
	}
	return exec.LookPath("mosquitto")
}

// DynsecPlugin finds Mosquitto's dynamic-security plugin, which Debian's
// mosquitto package installs in its multiarch library folder.
func DynsecPlugin() (string, error) {
	for _, pattern := range []string{"/usr/lib/*/mosquitto_dynamic_security.so", "/usr/lib/mosquitto_dynamic_security.so", "/usr/local/lib/mosquitto_dynamic_security.so"} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return m[0], nil
		}
	}
	return "", errors.New("mosquitto_dynamic_security.so not found under /usr/lib")
}

// Centre is what RenderCentre puts into deploy/mosquitto/mosquitto.conf.
type Centre struct {
	TLSPort, PlainPort    int    // the gateways' TLS listener and the services' plain one, on 127.0.0.1
	ServerCert, ServerKey string // the TLS listener's certificate for 127.0.0.1
	CA                    string
	Plugin                string // DynsecPlugin
	Dynsec                string // the dynamic-security file
	DataDir               string // persistence
}

// RenderCentre rewrites the centre broker's configuration src
// (deploy/mosquitto/mosquitto.conf) for loopback. It fails when src no
// longer contains a line it rewrites, so that a change of the deployed file
// shows up here instead of silently testing something else.
func RenderCentre(src string, c Centre) (string, error) {
	conf, err := replaceAll(src, []replacement{
		{"listener 8883\n", "listener " + strconv.Itoa(c.TLSPort) + " 127.0.0.1\n"},
		{"listener 1883 127.0.0.1\n", "listener " + strconv.Itoa(c.PlainPort) + " 127.0.0.1\n"},
		{"/etc/mosquitto/certs/server.crt", c.ServerCert},
		{"/etc/mosquitto/certs/server.key", c.ServerKey},
		{"/etc/mosquitto/certs/ca.crt", c.CA},
		{"plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so", "plugin " + c.Plugin},
		{"/etc/mosquitto/dynamic-security.json", c.Dynsec},
		{"/var/lib/mosquitto/", strings.TrimSuffix(c.DataDir, "/") + "/"},
	})
	if err != nil {
		return "", fmt.Errorf("deploy/mosquitto/mosquitto.conf: %w", err)
	}
	return conf + asRoot(), nil
}

// Local is what RenderLocal puts into deploy/mosquitto/gateway-local.conf.
type Local struct {
	Port         int    // on 127.0.0.1
	PasswordFile string // PasswdFile's output
	DataDir      string // persistence
	LogFile      string // instead of syslog
}

// RenderLocal rewrites a facility's local broker configuration src
// (deploy/mosquitto/gateway-local.conf) for loopback.
func RenderLocal(src string, l Local) (string, error) {
	conf, err := replaceAll(src, []replacement{
		{"listener 1883\n", "listener " + strconv.Itoa(l.Port) + " 127.0.0.1\n"},
		{"/etc/mosquitto/passwd", l.PasswordFile},
		{"/var/lib/mosquitto/", strings.TrimSuffix(l.DataDir, "/") + "/"},
		{"log_dest syslog\n", "log_dest file " + l.LogFile + "\nlog_timestamp_format %Y-%m-%dT%H:%M:%S\n"},
	})
	if err != nil {
		return "", fmt.Errorf("deploy/mosquitto/gateway-local.conf: %w", err)
	}
	return conf + asRoot(), nil
}

type replacement struct{ old, new string }

func replaceAll(s string, rs []replacement) (string, error) {
	for _, r := range rs {
		if !strings.Contains(s, r.old) {
			return "", fmt.Errorf("no longer contains %q", r.old)
		}
		s = strings.ReplaceAll(s, r.old, r.new)
	}
	return s, nil
}

// asRoot keeps the broker from dropping to user "mosquitto" when started as
// root: that user cannot read a test's private folders.
func asRoot() string {
	if os.Geteuid() == 0 {
		return "user root\n"
	}
	return ""
}
