package alerting

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// running is a service over a registry folder whose engine, notifier and
// dispatcher goroutines run, with its SMS captured.
type running struct {
	*Service
	reg  *registry.Registry
	sms  *smsCapture
	stop func()
}

// runRegistryService starts a service over the registry folder dir with
// the given state directories (so a test can restart it on them).
func runRegistryService(t *testing.T, dir, stateDir, notifyDir string) *running {
	t.Helper()
	cfg, reg := registryConfig(t, dir, stateDir, notifyDir)
	cfg.Events.Enabled = false
	r := &running{reg: reg, sms: &smsCapture{got: make(chan notify.Message, 64)}}
	var err error
	r.Service, err = New(Options{Config: cfg, Registry: reg, Registerer: prometheus.NewRegistry(),
		Notifiers: map[notify.Channel]notify.Notifier{notify.ChannelSMS: r.sms}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{r.evaluate, r.disp.Run, r.notifyLoop} {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	var once sync.Once
	r.stop = func() { once.Do(func() { cancel(); wg.Wait(); r.close() }) }
	t.Cleanup(r.stop)
	return r
}

// next waits for the next SMS of kind about device.
func (r *running) next(t *testing.T, kind notify.Kind, device string) notify.Message {
	t.Helper()
	deadline := time.After(30 * time.Second) // bounds the test; not a timing assertion
	for {
		select {
		case m := <-r.sms.got:
			if m.Kind == kind && slices.ContainsFunc(m.Alerts, func(a notify.Alert) bool { return a.Device == device }) {
				return m
			}
			t.Logf("SMS %s about %v", m.Kind, m.Alerts)
		case <-deadline:
			t.Fatalf("no %s SMS about %s", kind, device)
		}
	}
}

func (r *running) smoke(facility, gw, dev string) {
	r.in <- batchMessage(facility, gw, "110105001", model.Reading{Device: dev, Kind: model.KindSmoke, Time: time.Now(), Value: 1})
}

const reconcileYAML = `facility: {id: "110105001-0001", name: 朝阳园, region: "110105001"}
gateways: [gw-1]
operators: [{name: 园长, phone: "+8613800001111"}]
rooms: [{id: r1, name: 乳儿班, type: infant}, {id: r2, name: 托小班, type: toddler}]
devices:
`

func reconcileFile(devices ...string) string {
	var b strings.Builder
	b.WriteString(reconcileYAML)
	for _, d := range devices {
		b.WriteString("  - {id: " + d + ", room: r1, source: s, address: " + d + ", kinds: [smoke]}\n")
	}
	return b.String()
}

// TestRegistryChangesReachTheRunningService: while the service runs, a
// device with an open smoke alarm is removed from the facility's file (its
// operator is told the alarm ended), a device is added (its alarm is
// announced), and the facility's file is deleted (its open alarm ends,
// told); a device removed while the service was down ends at the next
// start. Nothing restarts in between but the last.
func TestRegistryChangesReachTheRunningService(t *testing.T) {
	const fac = "110105001-0001"
	dir, stateDir, notifyDir := t.TempDir(), t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "bj.yaml")
	writeAtomic(t, path, reconcileFile("smoke-1", "smoke-2"))
	r := runRegistryService(t, dir, stateDir, notifyDir)

	r.smoke(fac, "gw-1", "smoke-2")
	r.next(t, notify.KindFiring, "smoke-2")

	writeAtomic(t, path, reconcileFile("smoke-1", "smoke-3"))
	if changed, err := r.reg.Reload(context.Background()); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	r.next(t, notify.KindResolved, "smoke-2")
	r.smoke(fac, "gw-1", "smoke-3")
	r.next(t, notify.KindFiring, "smoke-3")
	r.smoke(fac, "gw-1", "smoke-2") // refused: no longer registered
	r.smoke(fac, "gw-1", "smoke-1")
	r.next(t, notify.KindFiring, "smoke-1")

	// Stopped; smoke-1 is removed meanwhile; started again on the same
	// state: its alarm, restored firing, ends, and its operator is told.
	r.stop()
	if got := testutil.ToFloat64(r.m.registryChanges.WithLabelValues("updated")); got != 1 {
		t.Errorf("registry updates %v, want 1", got)
	}
	if got := testutil.ToFloat64(r.m.readingsRejected.WithLabelValues(model.RejectUnregisteredDevice)); got != 1 {
		t.Errorf("readings of the removed device refused %v, want 1", got)
	}
	writeAtomic(t, path, reconcileFile("smoke-3"))
	r = runRegistryService(t, dir, stateDir, notifyDir)
	r.next(t, notify.KindResolved, "smoke-1")

	// The facility's file is deleted: smoke-3's open alarm ends.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.reg.Reload(context.Background()); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	r.next(t, notify.KindResolved, "smoke-3")
	r.stop()
	if got := testutil.ToFloat64(r.m.registryChanges.WithLabelValues("removed")); got != 1 {
		t.Errorf("registry removals %v, want 1", got)
	}
}
