// Package chaos runs the whole CradleWatch system on real parts, as
// separate processes, under a load of numbered readings and a seeded
// schedule of faults, and then accounts for every reading and every
// scripted alert. It is what `make chaos` runs (cmd/chaos), and a
// three-minute run of it is part of the test suite (chaos_test.go).
//
// # What runs
//
// Everything listens on loopback, in one data folder, and is stopped when
// Run returns (also on cancellation and on failure; the kernel kills every
// child if the harness itself dies):
//
//   - influxd 1.8.3 (internal/influxd).
//   - The centre's Mosquitto configured as deploy/mosquitto/mosquitto.conf
//     configures it (only ports and paths rewritten), its accounts written
//     from the facility registry by `cwbroker identities` (dynamic
//     security: one account per gateway, client ID bound), running under
//     `cwbroker watch`, which counts what the broker refuses. Gateways
//     connect over TLS through a TCP proxy each (an uplink the schedule can
//     cut); the services on the plain loopback listener.
//   - Facilities in both local layouts: Mosquitto as the facility's broker
//     (deploy/mosquitto/gateway-local.conf, ports and paths rewritten) or
//     the gateway's embedded broker. Half the gateways run the ordinary
//     build of cmd/gateway, half the power-cut test build (tag cwpowercut),
//     one of each per layout. Some spools live on a small tmpfs of their
//     own, so that the disk can be filled under them.
//   - Two collectors in the share group, two alerting instances (shards 0
//     and 1 of 2) with the control bus secret, the phone key and an access
//     database (SQLite) as their configuration requires, and a local server
//     speaking Aliyun's SMS and voice protocol (internal/fakealiyun) in
//     place of the provider.
//   - A supervisor per service that restarts it when it exits, as systemd
//     does (Restart=always), after its RestartSec.
//
// # The load
//
// Each facility's Zigbee2MQTT is one MQTT client (QoS 1, persistent
// session, unacknowledged messages sent again after a reconnect) for its
// CO2 sensors. Every message carries one reading whose value is the
// device's sequence number, so every reading is identifiable in InfluxDB
// by (facility, device, value). Half the sensors send their own time
// (Zigbee2MQTT's last_seen, epoch milliseconds: the time the sensor stamped
// it), half send none (Zigbee2MQTT without last_seen: the gateway dates
// them). A reading is accepted when its PUBACK arrived; the harness
// records when it published each reading and when the PUBACK came.
//
// # The faults
//
// A schedule drawn from the seed (Plan) runs one fault at a time, each
// bounded in time, covering every kind at least once: a gateway killed with
// SIGKILL (both layouts), a power cut under a power-cut build (SIGUSR1 now,
// SIGUSR2 during or just after an fsync), the local broker restarted, a
// collector or an alerting instance killed (also at the moment the
// provider takes an SMS: a delivery in doubt), influxd stopped,
// the centre's broker restarted and stopped for a while, a gateway's uplink
// cut, the spool's disk filled, a flood of malformed messages on a local
// broker, and a hostile facility on the centre's broker trying another
// gateway's client ID, the collectors' share group and another facility's
// topics with its own credentials.
//
// Scripted incidents (a smoke alarm and its clearing, a door opened after
// hours and closed) run meanwhile in the same facilities, each longer than
// any outage, so each must end as exactly one firing and one resolved
// notification to the facility's operator.
//
// # What counts
//
// After the load stops and the system drained, the harness reads every
// stored reading back and reports, per fault kind (readings published
// around a fault of that kind on the facility it hit) and overall: readings
// accepted and stored, lost (accepted, not in InfluxDB), duplicated (stored
// at more than one time), re-dated (a timed reading stored at another time
// than its sensor's stamp; an untimed one outside [publish, PUBACK +
// local.max_stamp_lead]); alerts scripted and fired; missing and duplicate
// notifications; peak RSS per process. An untimed reading on the external
// Mosquitto layout that waited in Mosquitto's queue while its gateway was
// away is dated when Mosquitto delivers it (docs/wire.md, "Time"): it is
// counted apart as dated at delivery when a gateway outage explains it, and
// as re-dated otherwise. Every second copy of an SMS is a duplicate, also
// after an alerting instance was killed while the provider took the first:
// the restarted instance asks the provider before it sends again
// (docs/alerting.md, "Deliveries in doubt"); the report names a kill near
// a duplicate, and counts the deliveries the provider confirmed.
// Report.Failed is true on any loss, duplicate, re-dated reading, missing
// or duplicate notification, or hostile act that got through.
package chaos
