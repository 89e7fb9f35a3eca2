// Package model is CradleWatch's shared data model and wire contract.
//
// It names the things every service talks about (facility, room, device,
// reading, batch, gap, acknowledgement, gateway status), the MQTT topics they
// travel on, and the compact binary encoding of a batch. docs/wire.md is the
// prose version of this package; the two must agree.
//
// The package depends on the standard library only, so the gateway binary,
// which runs on small ARM boxes, can import it without pulling in anything
// from the central services.
package model
