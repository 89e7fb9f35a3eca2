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
//   - Every reading of a batch from the gateway's backlog lane
//     (model.LaneBacklog) is replay, however recent.
//   - Replayed readings update windows, `for` timers and alert state like
//     live ones, and their transitions are returned and recorded, but with
//     Notify false: no one is woken for what is over.
//   - An alert that fires and resolves entirely within replayed data is
//     therefore recorded (both transitions) and never notified.
//   - An alert that fires on replayed data and is still firing at its first
//     live evaluation is announced then, once: a transition from firing to
//     firing with Notify true. A resolution is notified exactly when the
//     firing was, whether the clearing reading is live or replayed: an
//     operator told of an alarm before an outage hears that it is over.
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
// # Backlogs
//
// After an outage a gateway sends its backlog in several batches while
// live readings go first, and says so: each batch carries its lane and a
// Draining flag, set while older entries are still on their way
// (docs/wire.md). Nothing the backlog may still revise is announced while
// it arrives; state and history are updated as usual.
//
//   - A facility has caught up when none of its gateways is draining (a
//     gateway silent for longer than the gateway rule's silence no longer
//     counts) and no replayed reading arrived for engine.replay_settle
//     (30 s): the second test covers gateways that do not flag their lanes
//     and backlog batches sent again.
//   - A live reading decides a single-reading threshold or a rise at once,
//     draining or not: the backlog holds only older readings, which those
//     rules ignore. A smoke alarm during a drain is announced at once.
//   - A rolling mean and the ventilation count miss the backlog's readings
//     until it is in: while the facility catches up their verdicts are
//     recorded and held (counted as held), and announced at the first
//     evaluation after.
//   - Tick judges a state kind's last value (a door) as the present only
//     when it came from a live reading or the facility has caught up: a
//     door that opened and closed in the backlog is never announced
//     because a tick fell between the two batches; a door that opened
//     during the outage and is still open is announced once caught up.
//
// # Platform
//
// A gateway's loss is its facility's outage only while the centre is fine.
// The service tells the engine when its own link to the broker drops and
// comes back (CentreLost, CentreBack): a broker that stops publishes every
// gateway's last will on its way down, and one that restarts hands them
// out again. The gateway rule's hold (10 s) delays a lost gateway, so that
// a platform incident seen at the same moment can claim it; while the
// centre is deaf nothing is silent and no gateway is announced; after it
// hears again (and at start), a gateway not heard from since has
// reconnect_grace (2 min) to show up. The mass_drop rule declares a
// platform incident when many gateways are lost within its window, and
// the centre_link rule fires while the link is down. Platform alerts
// belong to no facility: their Facility is Options.Platform.ID and their
// Device the instance, and the service routes them to the platform team.
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
// once min_coverage of its buckets hold data. Readings, means and limits
// are compared in fixed point (fixed.go): a mean is the exact sum of its
// readings over their count, and a value at the limit is in limits, as
// Band.Contains says for the compliance rollup. SnapshotSeries and
// RestoreSeries carry every threshold's last value and buckets across a
// restart (the service saves them periodically and at shutdown), so a
// restart in the middle of an hour does not reset the hourly mean.
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
// each facility, then Restore(store.Alerts()) and RestoreSeries(snapshot),
// then RetireUnlisted, then re-send store.Unsent(); CentreBack once
// connected. When the registry changes, UpdateFacility applies a changed
// record and RemoveFacility drops a facility (reconcile.go): what still
// exists keeps its state, what no longer exists ends by one documented
// rule.
package rules
