// Package influxd runs a real InfluxDB OSS 1.8.3 server on loopback for tests
// and demos.
//
// The project's integration tests talk to the same InfluxDB release that the
// collector targets in production, not to a fake: type conflicts, merges of
// points with the same identity and "partial write" answers only show up
// against the real thing. Binary finds or builds the influxd executable,
// Start runs it with a generated configuration in a private data directory,
// and Server offers the few HTTP calls tests need (create a database, run an
// InfluxQL query, count points) without pulling a client library into every
// test.
//
// Nothing here is meant for production: the server runs without
// authentication and listens on 127.0.0.1 only.
package influxd
