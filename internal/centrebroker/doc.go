// Package centrebroker gives the centre's MQTT broker its identities and
// makes what it refuses visible.
//
// # One identity per connection
//
// Every gateway the registry lists is one account: username = client ID =
// gateway ID, with a password of its own. The broker binds the client ID
// to the account (Mosquitto's dynamic-security plugin: a client with a
// fixed clientid; EMQX: use_username_as_clientid on the gateways'
// listener), so nobody can connect with another gateway's client ID, take
// over its session and fire its last will. Each gateway may publish only
// cw/v1/<facility>/<gateway>/batch and .../status and read only .../ack,
// where <facility> is the facility whose file lists the gateway, never one
// the gateway names itself.
//
// The service accounts: "collector" subscribes to the batch and status
// streams only through its shared-subscription group
// ($share/<group>/cw/v1/+/+/batch and .../status) and publishes acks.
// Every alerting instance has an account of its own, alerting-<n> for
// shard n (client ID cw-alerting-<n>, bound): it reads both streams (every
// shard reads everything), reads shard n's control topics
// (cw/ctl/v1/<n>/#) and nothing else of the control bus, and publishes
// replies (cw/ctl/v1/reply/+/+). Every console (the front door) has one
// too, console-<n> (client ID cw-console-<n>, bound): it publishes commands
// and queries (cw/ctl/v1/+/cmd/+, cw/ctl/v1/+/query) and reads only its
// own replies (cw/ctl/v1/reply/cw-console-<n>/+). Neither gateways nor the
// collector may touch cw/ctl/. Everything else is refused: no wildcard
// subscriptions, no other share group, no $SYS, no $CONTROL.
//
// Why an account per shard and per console rather than one account whose
// client IDs are bound per instance: Mosquitto 2.0's dynamic-security
// plugin binds one client ID to an account and has no %c or %u
// substitution in its ACLs (acl_file has, but binds nothing), so a right
// that differs by instance has to be an account of its own. The counts
// are the alerting service's shard.count and the number of consoles
// (Options.Shards, Options.Consoles).
//
// Identities builds the accounts from a directory of facility files
// (facility.id and the gateways: list); RenderDynsec writes Mosquitto's
// dynamic-security file, keeping the password hashes of accounts that
// already exist, and RenderEMQX the equivalent for EMQX.
//
// # Refusals are counted
//
// Mosquitto 2.0 refuses silently: a denied publish is acknowledged and
// dropped (MQTT 3.1.1 cannot say no), a denied subscription gets a failure
// code only the client sees, a forged last will is dropped when it would be
// sent, and none of it reaches $SYS. Its debug log is the only place these
// show up, so Supervise runs the broker as a child with its log on a pipe,
// counts what Watcher recognises (cw_broker_denied_total{action}),
// logs each refusal (rate-limited), and passes every non-debug line on.
// Debug logging roughly doubles the broker's CPU per message (measured
// with Mosquitto 2.0.11: about 23 to 51 µs per relayed message on the
// project's test machine); docs/deploy.md weighs it.
package centrebroker
