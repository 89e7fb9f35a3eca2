package influxwrite

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that Close leaves no connection goroutines behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
