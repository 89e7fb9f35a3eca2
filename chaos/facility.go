package chaos

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/mosquittoconf"
	"github.com/cradlewatch/cradlewatch/internal/netcut"
)

// startFacility starts what serves one facility: its spool's tmpfs, its
// local Mosquitto (Mosquitto layout), the gateway's path to the centre and
// the gateway, and connects its sensors.
func (r *run) startFacility(ctx context.Context, f *facility) error {
	dir := mkdir(filepath.Join(r.dir, "facility-"+f.ID))
	f.spoolDir = filepath.Join(dir, "disk", "spool")
	if f.Tmpfs {
		d, err := newDisk(filepath.Join(dir, "disk"), tmpfsBytes)
		if err != nil {
			return err
		}
		f.disk = d
		r.defer_(d.Close)
		if d.fallback != "" {
			r.printf("chaos: %s: the spool's disk cannot be filled here (%s): its spool_full faults do not run\n", f.ID, d.fallback)
		}
	}
	if err := os.MkdirAll(f.spoolDir, 0o700); err != nil {
		return err
	}
	pw := make([]byte, 12)
	if _, err := crand.Read(pw); err != nil {
		return err
	}
	f.localPassword = hex.EncodeToString(pw)
	f.gatewayPassword = r.centre.passwords[f.Gateway]
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	f.localPort, f.httpAddr = ports[0], "127.0.0.1:"+strconv.Itoa(ports[1])
	localAddr := "127.0.0.1:" + strconv.Itoa(f.localPort)
	if f.Layout == layoutMosquitto {
		if err := r.startLocalBroker(ctx, f, dir); err != nil {
			return err
		}
	}
	if f.uplink, err = netcut.New(r.centre.tlsAddr()); err != nil {
		return err
	}
	r.defer_(f.uplink.Close)
	conf := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(conf, []byte(r.gatewayYAML(f)), 0o600); err != nil {
		return err
	}
	bin := r.bin.gateway
	if f.PowerCut {
		bin = r.bin.gatewayPowerCut
	}
	f.gateway = r.newProc("gateway-"+f.ID, bin, "-config", conf)
	if f.PowerCut {
		rng := rand.New(rand.NewPCG(uint64(r.opts.Seed), uint64(f.idx)))
		f.gateway.env = func() []string {
			// Each start draws which unsynced bytes a cut keeps.
			env := []string{"CW_POWERCUT_SEED=" + strconv.FormatUint(rng.Uint64()>>1, 10)}
			switch f.nextCut() {
			case CutNowTorn:
				env = append(env, "CW_POWERCUT_TORN=1")
			case CutAfterSync:
				env = append(env, "CW_POWERCUT_USR2=after-sync")
			}
			return env
		}
	}
	if err := f.gateway.Start(); err != nil {
		return err
	}
	if err := waitReady(ctx, f.gateway.name, f.httpAddr, 60*time.Second); err != nil {
		return fmt.Errorf("%w; log:\n%s", err, tail(f.gateway.logPath, 30))
	}
	user := "zigbee2mqtt"
	if f.sensor, err = newSensor(f, localAddr, user, f.localPassword); err != nil {
		return err
	}
	r.defer_(f.sensor.c.Close)
	return nil
}

// nextCut is the variant of the facility's next scheduled power cut: the
// power-cut build reads how to cut from its environment when it starts
// (cmd/gateway, powercut_on.go), so each start prepares the next cut.
func (f *facility) nextCut() string {
	f.cutMu.Lock()
	defer f.cutMu.Unlock()
	if f.cutNext < len(f.cuts) {
		return f.cuts[f.cutNext]
	}
	return ""
}

// cutDone moves on to the next scheduled cut.
func (f *facility) cutDone() {
	f.cutMu.Lock()
	defer f.cutMu.Unlock()
	f.cutNext++
}

// startLocalBroker runs the facility's Mosquitto as
// deploy/mosquitto/gateway-local.conf configures it, with a password each
// for the gateway and Zigbee2MQTT.
func (r *run) startLocalBroker(ctx context.Context, f *facility, dir string) error {
	src, err := os.ReadFile(filepath.Join(r.opts.Root, "deploy", "mosquitto", "gateway-local.conf"))
	if err != nil {
		return err
	}
	pw, err := mosquittoconf.PasswdFile(map[string]string{"gateway": f.localPassword, "zigbee2mqtt": f.localPassword})
	if err != nil {
		return err
	}
	passwd := filepath.Join(dir, "mosquitto.passwd")
	if err := os.WriteFile(passwd, []byte(pw), 0o600); err != nil {
		return err
	}
	conf, err := mosquittoconf.RenderLocal(string(src), mosquittoconf.Local{
		Port: f.localPort, PasswordFile: passwd, DataDir: mkdir(filepath.Join(dir, "mosquitto")), LogFile: filepath.Join(dir, "mosquitto.log"),
	})
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return err
	}
	f.localBroker = r.newProc("local-broker-"+f.ID, r.bin.mosquitto, "-c", path)
	return r.startAndWait(ctx, f.localBroker, "127.0.0.1:"+strconv.Itoa(f.localPort))
}
