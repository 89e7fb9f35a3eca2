// Package rules is the alerting service's rule engine: it turns the live
// stream of readings and gateway statuses of each facility into alert
// transitions (pending, firing, acknowledged, resolved), in event time.
//
// # Rules
//
// Rules come from configs/rules.yaml (every key documented there) and are
// overridable per room type, per facility and per room. Types: threshold
// (single readings or a rolling mean over a window, a `for` duration, a
// separate clear level, limits that may differ by season; doors, windows,
// cameras, smoke and gas are thresholds on 0/1 kinds), absence (a device
// silent longer than its interval × factor, or never heard from), gateway
// (last will or silence, whichever first; critical and escalated to the
// regulators in opening hours), rise (temperature up fast: possible fire)
// and ventilation (windows opened often and long enough, judged at closing
// time). Each rule applies always, in opening hours, or outside them, by
// the facility's calendar (package calendar).
//
// # Event time
//
// Every reading carries the time it was measured; rules judge readings at
// that time, not at the time they arrive. Per facility the engine keeps a
// watermark: the newest measurement time it has seen.
//
//   - A reading is live when it is no older than the allowed lateness
//     (engine.allowed_lateness, 5 minutes by default) both behind the
//     watermark and behind the service clock. Otherwise it is replay: a
//     gateway draining its backlog after an outage, or a sensor that
//     lagged. The second test matters because a backlog arrives in order,
//     so each of its readings advances the watermark.
//   - Replayed readings update windows, `for` timers and alert state like
//     live ones, and their transitions are returned and recorded, but with
//     Notify false: no one is woken for what is over.
//   - An alert that fires and resolves entirely within replayed data is
//     therefore recorded (both transitions) and never notified.
//   - An alert that fires on replayed data and is still firing at its first
//     live evaluation is announced then, once: a transition from firing to
//     firing with Notify true. A resolution is notified only when the
//     firing was.
//   - Readings stamped more than engine.max_future ahead of the service
//     clock are rejected and counted, so a wrong gateway clock cannot push
//     the watermark forward. Readings outside the kind's physical range are
//     rejected too.
//   - A single-reading threshold ignores a reading older than the newest
//     one it has judged (the newer reading decided). A windowed threshold
//     adds a late reading to its bucket if the bucket is still inside the
//     window and re-judges the mean as of its newest reading.
//   - Only live readings resolve an absence alert: a replayed backlog shows
//     that a device was there, not that it is.
//
// Time-driven rules run in Tick, at the service clock: absence of devices
// and gateways, `for` and scope of state kinds (a door left open past
// closing time), and the ventilation check once closing time has passed.
// While a facility's stream is silent (longer than its gateway rule's
// silence), Tick does not judge its doors and cameras on stale states: the
// gateway alert covers the facility, and device absence alerts wait until
// the gateway is back (one alert, not twenty). The ventilation check also
// runs when event time passes closing time, so a replayed day is judged,
// without notification.
//
// Rolling means are kept in a fixed ring of buckets (60 by default) per
// series, so a 24-hour PM2.5 mean costs the same memory as a 1-hour CO2
// mean, and its span is exact to one bucket width. A mean is judged only
// once min_coverage of its buckets hold data. Windows are not persisted:
// after a restart they refill from live data.
//
// # Lifecycle
//
// Inactive → Pending (condition met, `for` running) → Firing → (operator)
// Acknowledged → Resolved once the clear level held for resolve_hold. A dip
// shorter than resolve_hold keeps the episode and sends nothing (flap
// suppression). Each alert has a stable fingerprint: the hash of rule,
// facility, room and device, in hex; a new episode reuses it.
//
// # Driving the engine
//
// An Engine is not safe for concurrent use. Shard facilities with ShardOf
// and run one engine per shard, each owned by one goroutine that calls
// ObserveBatch, ObserveStatus, Tick and Acknowledge; share one Metrics
// among the shards. The slices these methods return belong to the engine
// until its next call: record them (package state) and hand the Notify
// ones to the notifier before calling again. On start: AddFacility for
// each facility, then Restore(store.Alerts()), then re-send
// store.Unsent().
package rules
