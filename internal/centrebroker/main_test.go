package centrebroker_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that Supervise and the test clients leave no goroutine
// behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
