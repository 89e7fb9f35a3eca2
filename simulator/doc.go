// Package simulator publishes the MQTT traffic that the devices of one or
// more childcare facilities send to each facility's local broker, so that
// the gateway can be demonstrated and load-tested without hardware.
//
// It speaks the device families the gateway decodes, as they really publish:
//
//   - Zigbee2MQTT: state JSON on zigbee2mqtt/<friendly name> (temperature and
//     humidity sensors, air-quality sensors with co2/pm25/formaldehyd/voc,
//     door contacts where "contact": true means closed) and the retained
//     availability {"state":"online"} on zigbee2mqtt/<friendly name>/availability.
//   - Tasmota: tele/<topic>/SENSOR with an AM2301 object and "TempUnit", and
//     the retained last will "Online" on tele/<topic>/LWT.
//   - The NVR agent: camera heartbeats on cw/local/camera/<camera>/heartbeat.
//
// # Time
//
// The world runs on simulated time: sim = Start + (wall - wall at Run) × Speed.
// With Speed 1 and no Start it is real time. Everything scripted (incident
// "at" offsets, a door_night at 22:00, opening hours, reporting intervals) is
// in simulated time, in the facility's time zone.
//
// Devices stamp their messages as the real ones do, which matters in
// accelerated mode: Zigbee2MQTT sends no time at all (the gateway stamps the
// arrival time, which is wall time), so only Tasmota ("Time", local time
// without zone, as Tasmota sends it) and the NVR agent ("time", RFC 3339)
// carry the simulated time. A gateway that is fed an accelerated run will
// therefore see Zigbee readings at wall-clock times and Tasmota and camera
// readings at simulated times.
//
// # Determinism
//
// Values are functions of simulated time, the device and Seed (noise comes
// from a per-device generator seeded from Seed and the device ID), so two
// runs with the same seed, start, speed and tick sequence publish the same
// messages.
//
// # Incidents
//
// Scripted incidents (co2_climb, overheat, rate_of_rise, camera_dark,
// door_night) override the normal model for a room or device for a while;
// see Incident.
package simulator
