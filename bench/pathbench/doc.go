// Package pathbench measures the whole ingest path side by side: the
// CradleWatch gateway and collector against Telegraf (mqtt_consumer with the
// JSON parser into influxdb_v2), fed in one run by one load generator
// through one Mosquitto into one influxd.
//
// # What runs
//
// Run builds cmd/gateway and cmd/collector into .cache/bin, installs a slim
// Telegraf there if missing, and starts every process as a child of the
// harness (killed with the harness, stopped in reverse order at the end):
//
//   - mosquitto on a free loopback port, with the production queue limits
//     (deploy/mosquitto/mosquitto.conf: max_queued_messages 1,000,000,
//     max_inflight_messages 1000). The gateway's local broker and its uplink
//     broker are this same Mosquitto: fine for a benchmark, as both
//     connections are measured in the gateway's CPU anyway, but in
//     production the uplink crosses the internet to another broker.
//   - influxd 1.8.3 (internal/influxd) with two databases, cradlewatch and
//     telegraf.
//   - the gateway (durable spool with group commit, acknowledgements from
//     the collector) and the collector, with their documented defaults.
//   - telegraf, subscribed to zigbee2mqtt/+ with QoS 1 and a persistent
//     session, writing to the telegraf database through /api/v2/write.
//
// The load generator then publishes Zigbee2MQTT-style state messages
// ({"battery":..,"humidity":..,"linkquality":..,"temperature":..}) with QoS 1
// on zigbee2mqtt/<friendly name>, over several connections, as fast as the
// broker acknowledges them. Both pipelines subscribe to the same topics, so
// every message reaches both.
//
// # What counts
//
// A reading is one field value: a message carries four. The gateway turns
// it into four points of one field each; Telegraf into one point of four
// fields. Both are counted as four readings, with count() over every field
// in InfluxDB. Zigbee2MQTT messages carry no time, so the gateway stamps
// the arrival time in milliseconds; a device's consecutive messages are
// Devices/Publishers messages apart in the publish stream, far more than a
// millisecond of work, so no two readings of one device share a timestamp
// (they would merge into one point, and the count check would say so).
//
// For each process the harness reads utime+stime from /proc/<pid>/stat
// before the first message and when its pipeline has stored everything,
// and the peak resident set (VmHWM) from /proc/<pid>/status. Mosquitto and
// influxd serve both pipelines; their figures are for context.
package pathbench
