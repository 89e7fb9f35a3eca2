package e2e

import (
	"strings"
	"testing"

	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// TestGatewaySurvivesBrokerRestarts restarts the broker (the facility's and,
// here, the centre's too) again and again while a sensor publishes. The
// gateway's local link must connect again by itself; acknowledgements it
// owed the old connection are dropped (the broker delivers those messages
// again, and their device timestamps make the second copy the same point),
// and InfluxDB ends with every reading the broker acknowledged to the
// sensor.
func TestGatewaySurvivesBrokerRestarts(t *testing.T) {
	gw := faultsUnderLoad(t, "gw-restart", 6000, 3, "broker restarted", func(b *testenv.Broker, _ *gatewayProcess) {
		b.Stop()
		b.Start()
	})
	// The local link connected again after the restarts (a restart may
	// fall while it waits to reconnect, so not necessarily once each).
	connects := 0
	for _, line := range strings.Split(gw.output(), "\n") {
		if strings.Contains(line, "mqtt connected") && strings.Contains(line, "component=local") {
			connects++
		}
	}
	if connects < 2 {
		t.Fatalf("the local link connected %d times, want it to reconnect\n%s", connects, gw.output())
	}
}
