package audit

import (
	"testing"

	"go.uber.org/goleak"
)

// The writer's Run loop must end with its context.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
