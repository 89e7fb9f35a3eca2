// Package testenv starts the real services integration tests need, on
// loopback and in the test's temporary directory: a Mosquitto broker, the
// centre's Mosquitto as deploy/ configures it (Centre: identities from a
// registry, under the log watcher), an InfluxDB 1.8.3 server and a
// PostgreSQL 15 server. Only _test.go files import it.
//
// Every helper skips the test under -short, and skips it with a message
// naming what to install when a binary is missing, unless
// CW_REQUIRE_INTEGRATION=1 (set by scripts/test.sh and CI), where a missing
// binary fails the test instead: CI must never go green by skipping.
//
// Helpers take the test's testing.TB, fail it on errors and register their
// own cleanup, so a test reads:
//
//	broker := testenv.Mosquitto(t)
//	db := testenv.Influx(t)
//	... connect to broker.Addr() and db.URL() ...
//
// Their methods (Start, Stop, Kill) must be called from the test's own
// goroutine, as t.Fatal requires.
package testenv
