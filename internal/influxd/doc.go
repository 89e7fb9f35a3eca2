// Package influxd runs a real InfluxDB OSS 1.8.3 server on loopback for tests
// and demos.
//
// The project's integration tests talk to the same InfluxDB release that the
// collector targets in production, not to a fake: type conflicts, merges of
// points with the same identity and "partial write" answers only show up
// against the real thing. Binary finds or builds the influxd executable,
// Start runs it with a generated configuration in a private data directory,
// and Server offers the few calls tests need (create a database, run an
// InfluxQL query, count points, seed line protocol) through the project's
// one InfluxQL client, internal/influxql. It is the one launcher of influxd:
// tests reach it through internal/testenv.Influx, the demo and the path
// benchmark through Start.
//
// Nothing here is meant for production: the server runs without
// authentication and listens on 127.0.0.1 only.
package influxd
