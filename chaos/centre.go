package chaos

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/mosquittoconf"
	"github.com/cradlewatch/cradlewatch/internal/promtext"
	"github.com/cradlewatch/cradlewatch/internal/testcerts"
)

// centre is the centre's broker: Mosquitto as deploy/ configures it, with
// the registry's identities, under `cwbroker watch`.
type centre struct {
	dir                string
	conf               string // mosquitto.conf, also how its process is found
	tlsPort, plainPort int
	metricsAddr        string
	caFile             string
	passwords          map[string]string // username → password, from the installers' sheet
	proc               *proc
}

// startCentre writes the identities with the installer's command, renders
// deploy/mosquitto/mosquitto.conf for loopback and starts the broker under
// the log watcher.
func (r *run) startCentre(ctx context.Context) error {
	c := &centre{dir: filepath.Join(r.dir, "centre")}
	r.centre = c
	if err := os.MkdirAll(filepath.Join(c.dir, "data"), 0o700); err != nil {
		return err
	}
	dynsec, sheet := filepath.Join(c.dir, "dynamic-security.json"), filepath.Join(c.dir, "new-passwords.csv")
	cmd := exec.CommandContext(ctx, r.bin.cwbroker, "identities", "-facilities", r.registryDir, "-shards", strconv.Itoa(shards),
		"-out", dynsec, "-new-passwords", sheet)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("chaos: cwbroker identities: %v\n%s", err, out)
	}
	var err error
	if c.passwords, err = readSheet(sheet); err != nil {
		return err
	}
	certs, err := testcerts.Write(mkdir(filepath.Join(c.dir, "certs")), "gateway")
	if err != nil {
		return err
	}
	c.caFile = certs.CA
	plugin, err := mosquittoconf.DynsecPlugin()
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	src, err := os.ReadFile(filepath.Join(r.opts.Root, "deploy", "mosquitto", "mosquitto.conf"))
	if err != nil {
		return err
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	c.tlsPort, c.plainPort, c.metricsAddr = ports[0], ports[1], "127.0.0.1:"+strconv.Itoa(ports[2])
	conf, err := mosquittoconf.RenderCentre(string(src), mosquittoconf.Centre{
		TLSPort: c.tlsPort, PlainPort: c.plainPort, ServerCert: certs.ServerCert, ServerKey: certs.ServerKey, CA: certs.CA,
		Plugin: plugin, Dynsec: dynsec, DataDir: filepath.Join(c.dir, "data"),
	})
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	c.conf = filepath.Join(c.dir, "mosquitto.conf")
	if err := os.WriteFile(c.conf, []byte(conf), 0o600); err != nil {
		return err
	}
	c.proc = r.newProc("centre-broker", r.bin.cwbroker, "watch", "-listen", c.metricsAddr, "-identities", dynsec, "--", r.bin.mosquitto, "-c", c.conf)
	return r.startAndWait(ctx, c.proc, c.tlsAddr(), c.plainAddr())
}

func (c *centre) tlsAddr() string   { return "127.0.0.1:" + strconv.Itoa(c.tlsPort) }
func (c *centre) plainAddr() string { return "127.0.0.1:" + strconv.Itoa(c.plainPort) }

// readSheet reads the installers' sheet `cwbroker identities` wrote:
// username, client_id, facility, password.
func readSheet(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("chaos: %s: %w", path, err)
	}
	out := map[string]string{}
	for i, row := range rows {
		if i == 0 || len(row) < 4 {
			continue
		}
		out[row[0]] = row[3]
	}
	return out, nil
}

// metrics reads one value of a /metrics page: the sum over the series of
// name whose label text contains every one of labels.
func metrics(addr, name string, labels ...string) (float64, error) {
	v, found, err := promtext.Get(httpClient, "http://"+addr+"/metrics", name, labels...)
	if err == nil && !found {
		err = errNoSeries
	}
	return v, err
}

var errNoSeries = errors.New("no such series")

// httpClient asks the services' operational listeners, without keeping
// connections: a run leaves no goroutine behind.
var httpClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// waitListening polls addrs until each accepts a TCP connection, p exits
// for good, or the deadline passes.
func waitListening(ctx context.Context, what string, deadline time.Duration, addrs ...string) error {
	end := time.Now().Add(deadline)
	for _, a := range addrs {
		for {
			if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
				c.Close()
				break
			}
			if time.Now().After(end) {
				return fmt.Errorf("chaos: %s not listening on %s after %v", what, a, deadline)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// waitReady polls http://addr/readyz until it answers 200.
func waitReady(ctx context.Context, what, addr string, deadline time.Duration) error {
	end := time.Now().Add(deadline)
	var last string
	for {
		resp, err := httpClient.Get("http://" + addr + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
		} else {
			last = err.Error()
		}
		if time.Now().After(end) {
			return fmt.Errorf("chaos: %s at %s not ready after %v (%s)", what, addr, deadline, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func mkdir(dir string) string {
	_ = os.MkdirAll(dir, 0o700)
	return dir
}
