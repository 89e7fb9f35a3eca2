package chaos

import (
	"fmt"
	"path/filepath"

	"github.com/cradlewatch/cradlewatch/internal/centrebroker"
)

// Template codes of the run's notifications, one per kind, so that a
// request at the fake provider tells what kind of notice it is.
const (
	tmplFiring     = "T_FIRING"
	tmplEscalation = "T_ESCALATION"
	tmplReminder   = "T_REMINDER"
	tmplResolved   = "T_RESOLVED"
)

// gatewayYAML is a facility's gateway configuration: the documented
// defaults except the addresses, the spool's bounds (on a small tmpfs for
// some facilities) and a status every 10 s.
func (r *run) gatewayYAML(f *facility) string {
	local := fmt.Sprintf("mqtt: {broker: tcp://127.0.0.1:%d, client_id: cw-gateway, username: gateway, password: %q}", f.localPort, f.localPassword)
	if f.Layout == layoutEmbedded {
		local = fmt.Sprintf("embedded: {enabled: true, listen: \"127.0.0.1:%d\", users: {zigbee2mqtt: %q}}", f.localPort, f.localPassword)
	}
	return fmt.Sprintf(`gateway_id: %s
facility_file: %s
local:
  %s
uplink:
  mqtt: {broker: "ssl://%s", username: %s, password: %q, tls: {ca_file: %s}}
spool: {dir: %s, max_bytes: %d, segment_bytes: %d, commit_interval: 500ms}
sources:
  - family: zigbee2mqtt
    base_topic: zigbee2mqtt
status_interval: 10s
http: {listen: %q}
log: {format: text, level: info}
`, f.Gateway, filepath.Join(r.registryDir, f.ID+".yaml"), local, f.uplink.Addr(), f.Gateway, f.gatewayPassword, r.centre.caFile,
		f.spoolDir, spoolMaxBytes, spoolSegmentBytes, f.httpAddr)
}

// Spool bounds: far more than a run writes, far less than the tmpfs a
// spool may live on (tmpfsBytes), which a fault fills.
const (
	spoolMaxBytes     = 32 << 20
	spoolSegmentBytes = 1 << 20
	tmpfsBytes        = 64 << 20
)

// collectorYAML is collector n's configuration (1 or 2).
func (r *run) collectorYAML(n int, httpAddr string) string {
	return fmt.Sprintf(`mqtt: {broker: "tcp://127.0.0.1:%d", client_id: cw-collector-%d, username: collector, password: %q}
share_group: cw-collector
registry: {dir: %s, poll_interval: 10s}
influx: {url: %q, database: cradlewatch, create_database: true}
http: {listen: %q}
log: {format: text, level: info}
`, r.centre.plainPort, n, r.centre.passwords["collector"], r.registryDir, r.influx.URL(), httpAddr)
}

// alertingYAML is the configuration of alerting shard index: the shipped
// rules and calendars, the run's fake provider for SMS and voice, a
// budget that never holds a message back (budgets are not what the run
// tests), and its secrets and access database beside the others.
func (r *run) alertingYAML(index int, httpAddr string) string {
	dir := filepath.Join(r.dir, fmt.Sprintf("alerting-%d", index))
	return fmt.Sprintf(`mqtt: {broker: "tcp://127.0.0.1:%d", client_id: cw-alerting-%d, username: %s, password: %q}
shard: {index: %d, count: %d}
facilities: %s
rules: %s
calendar_dir: %s
state_dir: %s
platform:
  contacts:
    - {id: platform-oncall, name: 平台值班, phone: %q}
events:
  enabled: true
  influx: {url: %q, database: cradlewatch, create_database: true}
http: {listen: %q}
ctl: {secret_file: %s}
access:
  database: {driver: sqlite, path: %s}
  audit: {chain: alerting-%d, spool_dir: %s, anchor_key_file: ""}
  phone_key_file: %s
log: {format: text, level: info}
notify:
  state_dir: %s
  budget: {per_day: 100000, per_window: 100000, window: 1s}
  directory:
    regions:
      %q: [{id: street, name: 街道办, phone: %q}]
      %q: [{id: county, name: 区卫健委, phone: %q}]
  templates:
    zh:
      sms: {firing: %s, escalation: %s, reminder: %s, resolved: %s}
      voice: {firing: V_FIRING, escalation: V_ESCALATION}
  sms_provider: aliyun
  voice_provider: aliyun
  aliyun: {access_key_id: ak, access_key_secret: sk, sign_name: 托育安全, endpoint: %q, scheme: HTTP, timeout: 5s}
  aliyun_voice: {endpoint: %q, scheme: HTTP, timeout: 5s}
`, r.centre.plainPort, index, centrebroker.AlertingUser(index), r.centre.passwords[centrebroker.AlertingUser(index)], index, shards, r.registryDir,
		filepath.Join(r.opts.Root, "configs", "rules.yaml"), filepath.Join(r.opts.Root, "configs", "calendar"),
		filepath.Join(dir, "state"), platformPhone, r.influx.URL(), httpAddr, r.secrets.ctl,
		filepath.Join(r.dir, "access.db"), index, filepath.Join(dir, "audit"), r.secrets.phone,
		filepath.Join(dir, "notify"), region, streetPhone, region[:6], countyPhone,
		tmplFiring, tmplEscalation, tmplReminder, tmplResolved, r.provider.Endpoint(), r.provider.Endpoint())
}
