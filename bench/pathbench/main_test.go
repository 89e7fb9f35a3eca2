package pathbench

import (
	"testing"

	"go.uber.org/goleak"
)

// The publisher tests run an in-process broker and the publisher's reader
// goroutine; both must be gone when the tests end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
