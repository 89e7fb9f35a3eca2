package testenv

import (
	"net"
	"os"
	"testing"
)

// EnvRequire names the variable that turns "binary missing, skip" into
// "binary missing, fail". scripts/test.sh sets it to 1.
const EnvRequire = "CW_REQUIRE_INTEGRATION"

// ShortSkipMessage is why integration tests skip under -short.
const ShortSkipMessage = "integration test: needs mosquitto and influxd; run scripts/test.sh"

// Integration skips t under -short. The service helpers call it; tests that
// need no service but belong with the integration suite may call it too.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip(ShortSkipMessage)
	}
}

// Required reports whether missing binaries must fail tests.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// missing skips or fails t because a service binary is not installed.
func missing(t testing.TB, what string, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (%s=1) but not available: %v", what, EnvRequire, err)
		return // unreachable with a real testing.TB, whose Fatalf ends the goroutine
	}
	t.Skipf("integration test: %s not available (%v); run scripts/install-deps.sh or scripts/test.sh", what, err)
}

// FreePort returns a loopback TCP port that was free a moment ago. Another
// process may still take it before the caller binds it; the helpers here
// retry with a fresh port when that happens.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
