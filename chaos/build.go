package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/mosquittoconf"
)

// binaries are the executables of a run.
type binaries struct {
	gateway, gatewayPowerCut, collector, alerting, cwbroker string
	mosquitto, influxd                                      string
}

// build compiles the services from cmd/ into dir (the gateway twice: the
// ordinary build and the power-cut test build) and finds Mosquitto and
// influxd.
func build(ctx context.Context, o Options, dir string) (binaries, error) {
	b := binaries{
		gateway: filepath.Join(dir, "gateway"), gatewayPowerCut: filepath.Join(dir, "gateway-powercut"),
		collector: filepath.Join(dir, "collector"), alerting: filepath.Join(dir, "alerting"), cwbroker: filepath.Join(dir, "cwbroker"),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return b, err
	}
	start := time.Now()
	for _, args := range [][]string{
		{"build", "-o", dir + "/", "./cmd/gateway", "./cmd/collector", "./cmd/alerting", "./cmd/cwbroker"},
		{"build", "-tags", "cwpowercut", "-o", b.gatewayPowerCut, "./cmd/gateway"},
	} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = o.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("chaos: go %v: %v\n%s", args, err, out)
		}
	}
	o.Logger.Info("built the services", "dir", dir, "took", time.Since(start).Round(time.Millisecond))
	var err error
	if b.mosquitto = o.Mosquitto; b.mosquitto == "" {
		if b.mosquitto, err = mosquittoconf.Binary(); err != nil {
			return b, fmt.Errorf("chaos: mosquitto: %w", err)
		}
	}
	if b.influxd = o.Influxd; b.influxd == "" {
		if b.influxd, err = influxd.Binary(ctx, o.Root); err != nil {
			return b, fmt.Errorf("chaos: %w", err)
		}
	}
	return b, nil
}
