package pathbench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Identities of the benchmark's facility and clients.
const (
	FacilityID       = "110105001-0001"
	FacilityRegion   = "110105001"
	GatewayID        = "gw-bench"
	gatewayLocalID   = "cw-gateway-bench"
	collectorID      = "cw-collector-bench"
	telegrafClientID = "telegraf-bench"
	publisherPrefix  = "pathbench-pub-"
	// roomsOfLoad spreads the load devices over this many rooms, as in a
	// large facility.
	roomsOfLoad = 10
)

// Databases the two pipelines write to.
const (
	DatabaseCradleWatch = "cradlewatch"
	DatabaseTelegraf    = "telegraf"
)

// Broker limits, as in deploy/mosquitto/mosquitto.conf. Mosquitto's
// defaults (1000 queued, 20 in flight) would drop QoS 1 messages silently
// under this load (PITFALLS.md).
const (
	brokerMaxQueued   = 1_000_000
	brokerMaxInflight = 1000
	brokerAutosave    = 60
)

// mosquittoConf renders the broker's configuration.
func mosquittoConf(port int, dataDir, logPath string, root bool) string {
	l := []string{
		"# pathbench broker: production limits (deploy/mosquitto/mosquitto.conf), loopback, anonymous.",
		fmt.Sprintf("listener %d 127.0.0.1", port),
		"allow_anonymous true",
		"persistence true",
		fmt.Sprintf("persistence_location %s/", dataDir),
		fmt.Sprintf("autosave_interval %d", brokerAutosave),
		fmt.Sprintf("max_queued_messages %d", brokerMaxQueued),
		"max_queued_bytes 0",
		fmt.Sprintf("max_inflight_messages %d", brokerMaxInflight),
		"set_tcp_nodelay true",
		"log_dest file " + logPath,
		"log_type error",
		"log_type warning",
		"log_type notice",
		"connection_messages true",
	}
	if root {
		// As root, mosquitto drops to user "mosquitto", which cannot write
		// the harness's directories.
		l = append(l, "user root")
	}
	return strings.Join(l, "\n") + "\n"
}

// facilityYAML is the facility file of the gateway: every load device plus
// the warm-up device, each a Zigbee2MQTT temperature/humidity sensor.
func facilityYAML(devices int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "facility: {id: %q, name: 基准测试园, region: %q, timezone: Asia/Shanghai, opening_hours: [\"mon-fri 07:30-18:00\"]}\n", FacilityID, FacilityRegion)
	fmt.Fprintf(&b, "gateways: [%s]\n", GatewayID)
	b.WriteString("rooms:\n")
	for r := range roomsOfLoad {
		fmt.Fprintf(&b, "  - {id: room-%02d, name: 活动室%d, type: activity}\n", r, r)
	}
	b.WriteString("devices:\n")
	dev := func(id, room, addr string) {
		fmt.Fprintf(&b, "  - {id: %s, room: %s, source: zigbee2mqtt, address: %q, kinds: [temperature, humidity, battery, linkquality], interval: 60s}\n", id, room, addr)
	}
	dev(WarmupDevice, "room-00", WarmupDevice)
	for i := range devices {
		dev(DeviceName(i), fmt.Sprintf("room-%02d", i%roomsOfLoad), DeviceName(i))
	}
	return b.String()
}

// GatewayTuning overrides gateway keys for a run; negative values keep the
// gateway's documented defaults.
type GatewayTuning struct {
	MaxProcs     int           // max_procs
	ReadCoalesce time.Duration // local.read_coalesce
}

// DefaultTuning keeps every default.
var DefaultTuning = GatewayTuning{MaxProcs: -1, ReadCoalesce: -1}

// gatewayYAML configures the gateway with its documented defaults for the
// uplink and the spool; only addresses and paths differ, and what tune sets.
func gatewayYAML(facilityFile, broker, spoolDir, httpListen string, tune GatewayTuning) string {
	var extra, local string
	if tune.MaxProcs >= 0 {
		extra = fmt.Sprintf("max_procs: %d\n", tune.MaxProcs)
	}
	if tune.ReadCoalesce >= 0 {
		local = fmt.Sprintf("\n  read_coalesce: %s", tune.ReadCoalesce)
	}
	return fmt.Sprintf(`gateway_id: %s
facility_file: %s
local:
  mqtt: {broker: %s, client_id: %s}%s
uplink:
  mqtt: {broker: %s, username: %q}
  max_batch: 1000
  max_batch_bytes: 262144
  window: 8
  ack_timeout: 15s
  max_ack_timeout: 5m
spool: {dir: %s, max_bytes: 268435456, segment_bytes: 4194304, commit_interval: 500ms}
sources:
  - {family: zigbee2mqtt, base_topic: %s}
status_interval: 1m
http: {listen: %q}
log: {format: text, level: info}
%s`, GatewayID, facilityFile, broker, gatewayLocalID, local, broker, FacilityID, spoolDir, BaseTopic, httpListen, extra)
}

// collectorYAML configures the collector with its documented defaults; the
// folder facilities is its registry.
func collectorYAML(broker, influxURL, httpListen, facilities string) string {
	return fmt.Sprintf(`mqtt: {broker: %s, client_id: %s}
share_group: cw-collector
registry: {dir: %s}
influx: {url: %s, version: 1, database: %s, retention_policy: autogen, gzip: false, timeout: 10s}
ingest: {max_lines: 5000, flush_interval: 200ms, max_inflight: 1024}
http: {listen: %q}
log: {format: text, level: info}
`, broker, collectorID, facilities, influxURL, DatabaseCradleWatch, httpListen)
}

// telegrafConf configures Telegraf the way the issue describes it, with
// two choices of ours, both in Telegraf's favour: max_undelivered_messages
// holds two output batches (the default 1000 is below metric_batch_size,
// so every write would wait for flush_interval), and the output sends
// uncompressed bodies like the collector does on loopback.
func telegrafConf(broker, influxURL string) string {
	return fmt.Sprintf(`[agent]
  interval = "10s"
  round_interval = false
  metric_batch_size = 5000
  metric_buffer_limit = 1000000
  flush_interval = "1s"
  flush_jitter = "0s"
  quiet = true

[[inputs.mqtt_consumer]]
  servers = [%q]
  topics = ["%s/+"]
  qos = 1
  persistent_session = true
  client_id = %q
  max_undelivered_messages = 10000
  data_format = "json"

[[outputs.influxdb_v2]]
  urls = [%q]
  token = ""
  organization = ""
  bucket = "%s/autogen"
  content_encoding = "identity"
`, broker, BaseTopic, telegrafClientID, influxURL, DatabaseTelegraf)
}

// writeFiles writes each path's content with owner-only permissions,
// making its folder when missing.
func writeFiles(files map[string]string) error {
	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return fmt.Errorf("pathbench: %w", err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return fmt.Errorf("pathbench: write %s: %w", path, err)
		}
	}
	return nil
}
