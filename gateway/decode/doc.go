// Package decode turns what off-the-shelf devices publish on a facility's
// local MQTT broker into observations: values normalised to the unit of
// their model.Kind, with the device's identity at its source.
//
// # Families
//
// A decoder per device family, each in its own file, all listed in
// registry.go:
//
//   - zigbee2mqtt: Zigbee2MQTT state and availability (Zigbee2MQTT).
//   - tasmota: Tasmota SENSOR telemetry and LWT (Tasmota).
//   - nvr: camera heartbeats from an NVR agent (NVR, format below).
//   - json: any other JSON, mapped by configuration (GenericJSON).
//
// The gateway's YAML lists its sources; Build decodes each entry into the
// family's config struct and returns a Set, which subscribes, routes each
// message to the first source whose filter matches, drops and counts what
// is unusable, and rate-limits its log lines:
//
//	sources:
//	  - {family: zigbee2mqtt, base_topic: zigbee2mqtt, voc_unit: ppb, voc_molar_mass: 78.9}
//	  - {family: tasmota, prefix: tele, timezone: Asia/Shanghai}
//	  - {family: nvr, topic: cw/local/camera/+camera/heartbeat}
//	  - {family: json, name: acme, topic: site/+room/+device/state, fields: [{path: t, kind: temperature}]}
//
// # Camera heartbeat format (family nvr)
//
// An agent beside the NVR publishes, per camera, on the configured topic
// (default cw/local/camera/<camera>/heartbeat, where <camera> is the
// camera's address in the facility file) a JSON object:
//
//		{"online": true, "recording": true, "retention_days": 92, "time": "2024-05-01T10:00:00+08:00"}
//
//	  - online (boolean, required): the NVR sees the camera's stream.
//	    → KindCameraOnline 1/0.
//	  - recording (boolean, optional): the NVR is writing the stream to disk.
//	    → KindCameraRecording 1/0.
//	  - retention_days (number, optional): age in days of the oldest recording
//	    kept for this camera. → KindCameraRetention. Below 90 is a finding.
//	  - time (RFC 3339 string, optional): when the agent checked; the
//	    arrival time otherwise.
//
// Other members are ignored, so agents may add their own. The agent
// should publish every minute or so and on every change; retained
// messages are fine. Video never travels, only this status.
//
// # Limits and counting
//
// Messages above Options.MaxMessageBytes (64 KiB) are refused before
// parsing. JSON is read in place (internal/jsonw) without building maps:
// Zigbee2MQTT state and Tasmota SENSOR in one pass that checks the syntax
// as it extracts the values (and takes them back if the payload turns out
// invalid), the other families with one checking pass and a walk. The
// check accepts exactly what encoding/json.Valid and utf8.Valid together
// accept, nesting limit included; the package's fuzz tests compare them.
//
// Two kinds of valid JSON are still refused, because they could be read as
// something the device did not say: an object that names a member twice
// (encoding/json keeps the last value, a one-pass reader the first) refuses
// the whole message, counted in cw_gateway_decode_errors_total with reason
// duplicate_key; a number float64 cannot hold refuses the value, counted in
// cw_gateway_readings_rejected_total with reason not_finite when too large
// (1e400) and underflow when so small it would read as 0 (1e-400). The
// fuzz corpora in testdata/fuzz keep such inputs.
//
// # Allocations
//
// Decoding allocates nothing per message in the steady state: numbers are
// parsed in place, and the strings an observation carries are either the
// source's name, a substring of the topic, or a stored copy from a bounded
// cache (Tasmota's "topic/sensor" addresses, json address templates).
// Set.DecodeBytes takes the topic as bytes, for an MQTT reader that
// reuses its buffer, and keeps a bounded cache of topic strings
// (Options.TopicCacheSize) so that a device's topic is copied once, not
// per message. Observations never alias the caller's buffers. Caches
// evict an arbitrary entry when full and count it in
// cw_gateway_decode_cache_evictions_total{cache}. Values that are null are skipped
// (Zigbee2MQTT sends null for what it has not seen since starting);
// values of the wrong type, not finite (1e400), underflowing (1e-400) or outside
// model.Kind.InRange are dropped and counted in
// cw_gateway_readings_rejected_total{family,kind,reason}.
package decode
