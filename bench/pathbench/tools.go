package pathbench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// TelegrafPackage is the slim Telegraf build the comparison runs: only the
// plugins of the path under test.
const (
	TelegrafPackage = "github.com/influxdata/telegraf/cmd/telegraf@v1.37.2"
	TelegrafTags    = "custom,inputs.mqtt_consumer,outputs.influxdb_v2,parsers.json"
	// TelegrafToolchain is tried when the local Go is too old for Telegraf.
	TelegrafToolchain = "go1.27.3"
)

// ensureTelegraf returns binDir/telegraf, installing it with go install when
// missing (a few minutes; needs the module proxy).
func ensureTelegraf(ctx context.Context, root, binDir string, log *slog.Logger) (string, error) {
	dst := filepath.Join(binDir, "telegraf")
	if fi, err := os.Stat(dst); err == nil && fi.Mode().IsRegular() {
		return dst, nil
	}
	log.Info("telegraf not found; installing it with go install, this takes a few minutes", "package", TelegrafPackage, "dest", dst)
	tmp, err := os.MkdirTemp(binDir, ".install-")
	if err != nil {
		return "", fmt.Errorf("pathbench: install telegraf: %w", err)
	}
	defer os.RemoveAll(tmp)
	install := func(extraEnv ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "go", "install", "-tags", TelegrafTags, TelegrafPackage)
		cmd.Dir = root
		cmd.Env = append(append(os.Environ(), "GOBIN="+tmp), extraEnv...)
		return cmd.CombinedOutput()
	}
	out, err := install()
	if err != nil && strings.Contains(string(out), "requires go >=") {
		log.Warn("local Go too old for telegraf; retrying with a newer toolchain", "toolchain", TelegrafToolchain)
		out, err = install("GOTOOLCHAIN=" + TelegrafToolchain)
	}
	if err != nil {
		return "", fmt.Errorf("pathbench: go install %s: %w\n%s", TelegrafPackage, err, out)
	}
	// Renamed into place only when complete, so a half-written binary is
	// never run.
	if err := os.Rename(filepath.Join(tmp, "telegraf"), dst); err != nil {
		return "", fmt.Errorf("pathbench: install telegraf: %w", err)
	}
	return dst, nil
}

// buildCommands builds the repository's gateway and collector into binDir
// and returns their paths.
func buildCommands(ctx context.Context, root, binDir string) (gateway, collector string, err error) {
	gateway = filepath.Join(binDir, "gateway")
	collector = filepath.Join(binDir, "collector")
	for _, b := range []struct{ pkg, out string }{{"./cmd/gateway", gateway}, {"./cmd/collector", collector}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("pathbench: go build %s: %w\n%s", b.pkg, err, out)
		}
	}
	return gateway, collector, nil
}

// mosquittoBinary finds the broker: $CW_MOSQUITTO, Debian's path, then PATH
// (the same order as internal/testenv).
func mosquittoBinary() (string, error) {
	if p := os.Getenv("CW_MOSQUITTO"); p != "" {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto", nil
	}
	p, err := exec.LookPath("mosquitto")
	if err != nil {
		return "", fmt.Errorf("pathbench: mosquitto not found (scripts/install-deps.sh installs it): %w", err)
	}
	return p, nil
}
