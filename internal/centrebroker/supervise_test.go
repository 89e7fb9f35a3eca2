package centrebroker

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// lineWriter hands each forwarded line to a channel.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) {
	w <- strings.TrimSuffix(string(p), "\n")
	return len(p), nil
}

// TestSuperviseReportsExit: a broker that dies (a bad configuration, a
// crash) ends Supervise with its exit status, after its last lines were
// read and counted.
func TestSuperviseReportsExit(t *testing.T) {
	w := NewWatcher(WatcherOptions{})
	err := Supervise(context.Background(), SuperviseOptions{
		Command: []string{"/bin/sh", "-c", `echo "Denied PUBLISH from x (d0, q1, r0, m1, 'cw/ctl/x', ... (1 bytes))" >&2; exit 3`},
		Watcher: w,
	})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v, want the exit status", err)
	}
	if got := testutil.ToFloat64(w.denied.WithLabelValues(ActionPublish)); got != 1 {
		t.Errorf("denied publishes = %v, want 1", got)
	}
	if err := Supervise(context.Background(), SuperviseOptions{Command: []string{"/nonexistent/mosquitto"}, Watcher: w}); err == nil {
		t.Error("a missing broker binary started")
	}
}

// TestSuperviseForwardsSignalsAndStops: SIGHUP reaches the broker, and a
// cancelled context stops it with SIGTERM and returns nil.
func TestSuperviseForwardsSignalsAndStops(t *testing.T) {
	lines := make(lineWriter, 16)
	w := NewWatcher(WatcherOptions{Forward: lines})
	sigs := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Supervise(ctx, SuperviseOptions{
			Command: []string{"/bin/sh", "-c", `trap 'echo reloaded >&2' HUP; trap 'echo stopping >&2; exit 0' TERM; echo started >&2; while :; do sleep 1 & wait $!; done`},
			Watcher: w, Signals: sigs,
		})
	}()
	next := func(want string) {
		t.Helper()
		select {
		case l := <-lines:
			if l != want {
				t.Fatalf("broker said %q, want %q", l, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no %q from the broker", want)
		}
	}
	next("started")
	sigs <- syscall.SIGHUP
	next("reloaded")
	cancel()
	next("stopping")
	if err := <-done; err != nil {
		t.Fatalf("Supervise after a stop: %v", err)
	}
}
