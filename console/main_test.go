package console

import (
	"testing"

	"go.uber.org/goleak"
)

// The console's goroutines (front door, operational listener, registry,
// audit writer, broker connection) end with Run and Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
