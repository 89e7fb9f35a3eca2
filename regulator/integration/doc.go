// Package integration holds the regulator views' end-to-end tests against
// a real influxd: seeded week, rollups, every dashboard query, the monthly
// report and its rendering in headless Chromium. It has no non-test code.
package integration
