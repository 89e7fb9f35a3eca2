package pathbench

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/collector"
	"github.com/cradlewatch/cradlewatch/gateway"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/registry"
)

// TestConfigsLoad checks the generated files against the services' own
// loaders, so a change of their schema breaks this test rather than a
// benchmark run minutes later.
func TestConfigsLoad(t *testing.T) {
	dir := t.TempDir()
	fac := filepath.Join(dir, "facilities", "facility.yaml")
	gw := filepath.Join(dir, "gateway.yaml")
	col := filepath.Join(dir, "collector.yaml")
	if err := writeFiles(map[string]string{
		fac: facilityYAML(25),
		gw:  gatewayYAML(fac, "tcp://127.0.0.1:1883", filepath.Join(dir, "spool"), "127.0.0.1:9100", GatewayTuning{MaxProcs: 0, ReadCoalesce: 2 * time.Millisecond}),
		col: collectorYAML("tcp://127.0.0.1:1883", "http://127.0.0.1:8086", "127.0.0.1:9101", filepath.Dir(fac)),
	}); err != nil {
		t.Fatal(err)
	}
	f, err := registry.Load(fac)
	if err != nil {
		t.Fatalf("facility file: %v", err)
	}
	if len(f.Devices) != 26 || f.Sources["zigbee2mqtt"][DeviceName(24)] == nil {
		t.Errorf("facility file: %d devices, want 25 load devices and the warm-up device", len(f.Devices))
	}
	gcfg := gateway.DefaultConfig()
	if err := config.Load(gw, &gcfg); err != nil {
		t.Fatalf("gateway config: %v", err)
	}
	def := gateway.DefaultConfig()
	if gcfg.Uplink.MaxBatch != def.Uplink.MaxBatch || gcfg.Uplink.Window != def.Uplink.Window || gcfg.Spool.CommitInterval != def.Spool.CommitInterval {
		t.Errorf("gateway config strays from the documented defaults: %+v", gcfg)
	}
	ccfg := collector.DefaultConfig()
	if err := config.Load(col, &ccfg); err != nil {
		t.Fatalf("collector config: %v", err)
	}
	if ccfg.Influx.Database != DatabaseCradleWatch {
		t.Errorf("collector writes to %q", ccfg.Influx.Database)
	}
}

func TestTelegrafConf(t *testing.T) {
	got := telegrafConf("tcp://127.0.0.1:1883", "http://127.0.0.1:8086")
	for _, want := range []string{
		`topics = ["zigbee2mqtt/+"]`, "qos = 1", "persistent_session = true", `client_id = "telegraf-bench"`,
		`data_format = "json"`, "metric_batch_size = 5000", `bucket = "telegraf/autogen"`, `token = ""`, `organization = ""`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("telegraf.conf lacks %q:\n%s", want, got)
		}
	}
}

func TestMosquittoConf(t *testing.T) {
	got := mosquittoConf(18830, "data", "log", true)
	for _, want := range []string{"listener 18830 127.0.0.1", "max_queued_messages 1000000", "max_inflight_messages 1000", "user root"} {
		if !strings.Contains(got, want) {
			t.Errorf("mosquitto.conf lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(mosquittoConf(1, "d", "l", false), "user root") {
		t.Error("user root without root")
	}
}
