package testenv

import (
	"testing"
)

// BenchmarkMosquittoStartStop measures what one test pays for its own
// broker: start until the port accepts, then stop (with a persistence save).
func BenchmarkMosquittoStartStop(b *testing.B) {
	br := Mosquitto(b)
	br.Stop()
	for b.Loop() {
		br.Start()
		br.Stop()
	}
}
