package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The gateway runs on ARM boxes with 1-4 GB of RAM and an SD card: it must
// not carry the centre's code. These are the import path prefixes it may
// never depend on, with the reason a reader sees when the test fails.
var forbiddenDeps = []struct {
	prefix string
	why    string
}{
	{"github.com/cradlewatch/cradlewatch/collector", "the central ingest service"},
	{"github.com/cradlewatch/cradlewatch/alerting", "the central alerting service"},
	{"github.com/cradlewatch/cradlewatch/regulator", "the regulators' dashboards and reports"},
	{"github.com/cradlewatch/cradlewatch/internal/influxwrite", "InfluxDB writes belong to the centre"},
	{"github.com/cradlewatch/cradlewatch/internal/influxd", "the test and demo influxd runner"},
	{"github.com/influxdata/influxdb-client-go", "the InfluxDB client"},
	{"github.com/aliyun", "the Aliyun SMS SDK"},
	{"github.com/tencentcloud", "the Tencent Cloud SMS SDK"},
	{"github.com/grafana/grafana-foundation-sdk", "the Grafana dashboard SDK"},
	{"github.com/cradlewatch/cradlewatch/gateway/spool/powercut", "the power-cut simulation, for test builds only (tag cwpowercut)"},
}

// forbidden reports why the gateway may not depend on the package dep, or
// "" when it may. Prefixes match whole path elements, so a package named
// collectorx would not count as the collector.
func forbidden(dep string) string {
	for _, f := range forbiddenDeps {
		if dep == f.prefix || strings.HasPrefix(dep, f.prefix+"/") {
			return f.why
		}
	}
	return ""
}

// maxArm64Bytes bounds the stripped linux/arm64 gateway binary: it is
// copied over flaky uplinks to SD cards, and growth past this means a heavy
// dependency slipped in.
const maxArm64Bytes = 20 << 20

// goTool returns the go command, or skips the test when there is none.
func goTool(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH; cannot inspect the gateway's build")
	}
	return goBin
}

// TestGatewayDependencies fails when the gateway's import graph reaches a
// package of the centre.
func TestGatewayDependencies(t *testing.T) {
	goBin := goTool(t)
	// The test runs in cmd/gateway: "." is the gateway's main package.
	cmd := exec.Command(goBin, "list", "-deps", ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, stderr.String())
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps printed no packages")
	}
	for _, dep := range deps {
		if why := forbidden(dep); why != "" {
			t.Errorf("the gateway depends on %s (%s); find who imports it with: go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./cmd/gateway | grep %s", dep, why, dep)
		}
	}
}

// TestForbidden checks the matcher itself, so that a passing
// TestGatewayDependencies means something.
func TestForbidden(t *testing.T) {
	tests := []struct {
		dep  string
		want bool
	}{
		{"github.com/cradlewatch/cradlewatch/collector", true},
		{"github.com/cradlewatch/cradlewatch/alerting/notify/aliyun", true},
		{"github.com/cradlewatch/cradlewatch/regulator/dashboards", true},
		{"github.com/cradlewatch/cradlewatch/internal/influxwrite", true},
		{"github.com/influxdata/influxdb-client-go/v2/api", true},
		{"github.com/aliyun/alibaba-cloud-sdk-go/services/dysmsapi", true},
		{"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111", true},
		{"github.com/grafana/grafana-foundation-sdk/go/dashboard", true},
		{"github.com/cradlewatch/cradlewatch/gateway", false},
		{"github.com/cradlewatch/cradlewatch/gateway/spool", false},
		{"github.com/cradlewatch/cradlewatch/gateway/spool/powercut", true},
		{"github.com/cradlewatch/cradlewatch/model", false},
		{"github.com/cradlewatch/cradlewatch/collectorx", false},
		{"github.com/eclipse/paho.mqtt.golang", false},
		{"github.com/prometheus/client_golang/prometheus", false},
		{"time/tzdata", false},
	}
	for _, tt := range tests {
		if got := forbidden(tt.dep) != ""; got != tt.want {
			t.Errorf("forbidden(%q) = %v, want %v", tt.dep, got, tt.want)
		}
	}
}

// TestGatewayArm64Size cross-builds the gateway as `make gateway-arm64`
// does and fails when the binary exceeds maxArm64Bytes.
func TestGatewayArm64Size(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: cross-builds the gateway for linux/arm64")
	}
	goBin := goTool(t)
	bin := filepath.Join(t.TempDir(), "gateway-linux-arm64")
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cross-build for linux/arm64: %v\n%s", err, out)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatalf("stat the built gateway: %v", err)
	}
	t.Logf("gateway linux/arm64, stripped: %d bytes (%.1f MiB; limit %d MiB)", fi.Size(), float64(fi.Size())/(1<<20), maxArm64Bytes>>20)
	if fi.Size() > maxArm64Bytes {
		t.Errorf("gateway linux/arm64 is %d bytes, above the %d-byte limit", fi.Size(), maxArm64Bytes)
	}
}
