// Package e2e holds the end-to-end tests of the whole data path on real
// parts: Mosquitto, influxd, and the gateway, collector and alerting
// services. The package has no code of its own besides test helpers.
package e2e
