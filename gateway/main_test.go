package gateway

import (
	"testing"

	"go.uber.org/goleak"
)

// Every component the gateway starts (subscriber, spool, uplink, prober,
// embedded broker) must be gone when its Run returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
