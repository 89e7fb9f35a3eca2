package alerting

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// regFacilityYAML is a facility with two smoke detectors and one operator.
func regFacilityYAML(phone string) string {
	return fmt.Sprintf(`facility: {id: "110105001-0001", name: 朝阳园, region: "110105001"}
gateways: [gw-1]
operators: [{name: 园长, phone: %q}]
rooms: [{id: r1, name: 乳儿班, type: infant}, {id: r2, name: 托小班, type: toddler}]
devices:
  - {id: smoke-1, room: r1, source: s, address: s1, kinds: [smoke]}
  - {id: smoke-2, room: r2, source: s, address: s2, kinds: [smoke]}
`, phone)
}

const regOtherYAML = `facility: {id: "650102001-0001", name: 天山园, region: "650102001"}
gateways: [gw-xj]
rooms: [{id: r1, name: 乳儿班, type: infant}]
devices: [{id: smoke-xj, room: r1, source: s, address: s1, kinds: [smoke]}]
`

func writeAtomic(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// smsCapture records the SMS the notification path sends.
type smsCapture struct {
	mu   sync.Mutex
	sent []notify.Message
	got  chan notify.Message
}

func (c *smsCapture) Notify(_ context.Context, m notify.Message) (bool, error) {
	c.mu.Lock()
	c.sent = append(c.sent, m)
	c.mu.Unlock()
	c.got <- m
	return false, nil
}

// newRegistryService builds a service over the registry folder dir, with
// the SMS captured and no MQTT; the test owns (and reloads) the registry.
func newRegistryService(t *testing.T, dir string, sms notify.Notifier) (*Service, *registry.Registry, *prometheus.Registry) {
	t.Helper()
	cfg, reg := registryConfig(t, dir, t.TempDir(), t.TempDir())
	cfg.Events.Enabled = true // into discardSink
	preg := prometheus.NewRegistry()
	s, err := New(Options{Config: cfg, Registry: reg, Sink: discardSink{}, Registerer: preg,
		Notifiers: map[notify.Channel]notify.Notifier{notify.ChannelSMS: sms}})
	if err != nil {
		t.Fatal(err)
	}
	return s, reg, preg
}

// registryConfig is the configuration of the registry tests, over the
// registry folder dir and the given state directories, and the registry
// the test owns (and reloads). The access database and the secrets live
// beside stateDir, so a test that restarts on the same directories keeps
// them.
func registryConfig(t *testing.T, dir, stateDir, notifyDir string) (Config, *registry.Registry) {
	t.Helper()
	cfg := testConfig(t)
	cfg.StateDir, cfg.Notify.StateDir = stateDir, notifyDir
	cfg.Facilities = dir
	cfg.Notify.GroupWait = time.Nanosecond
	keep := stateDir + ".access"
	if err := os.MkdirAll(keep, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		name string
		to   *string
	}{{"ctl.key", &cfg.Ctl.SecretFile}, {"phone.key", &cfg.Access.PhoneKeyFile}} {
		p := filepath.Join(keep, k.name)
		if _, err := os.Stat(p); err != nil {
			testenv.SecretFile(t, keep, k.name, 32)
		}
		*k.to = p
	}
	cfg.Access.Database.Path = filepath.Join(keep, "access.db")
	cfg.Access.Audit.SpoolDir = filepath.Join(keep, "audit")
	rs, err := rules.LoadFile(cfg.Rules, cfg.CalendarDir)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.OpenDir(context.Background(), dir, registry.Options{Check: CheckFacility(rs)})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, reg
}

func batchMessage(facility, gateway string, region model.Region, rs ...model.Reading) message {
	b := model.Batch{Gateway: gateway, Facility: facility, Region: region, Sent: time.Now(), Readings: rs}
	return message{topic: model.Topic(facility, gateway, model.SuffixBatch), payload: model.EncodeBatch(nil, &b), arrived: time.Now()}
}

// TestObserveTrustsOnlyTheRegistry: 200 invented gateway IDs on a
// facility's topic raise no alert; another facility's device and an
// unregistered device are not evaluated; a batch claiming another region is
// counted and evaluated under the registry's (a typo in a facility's file
// must not mute its smoke alarm); the registered devices' smoke fires.
func TestObserveTrustsOnlyTheRegistry(t *testing.T) {
	dir := t.TempDir()
	writeAtomic(t, filepath.Join(dir, "bj.yaml"), regFacilityYAML("+8613800001111"))
	writeAtomic(t, filepath.Join(dir, "xj.yaml"), regOtherYAML)
	s, _, preg := newRegistryService(t, dir, notify.NotifierFunc(func(context.Context, notify.Message) (bool, error) { return false, nil }))
	defer s.close()
	const fac = "110105001-0001"
	now := time.Now()
	var b model.Batch
	for i := range 200 {
		gw := fmt.Sprintf("gw-invented-%d", i)
		// Offline and not clean: the last will, which fires a gateway alert at once.
		st := model.Status{Gateway: gw, Facility: fac, State: model.GatewayOffline}
		s.observe(message{topic: model.Topic(fac, gw, model.SuffixStatus), payload: model.EncodeStatus(st), arrived: now}, &b)
		s.observe(batchMessage(fac, gw, "110105001", model.Reading{Device: "smoke-1", Kind: model.KindSmoke, Time: now, Value: 1}), &b)
	}
	smoke := func(dev string, v float64) model.Reading {
		return model.Reading{Device: dev, Room: "r1", Kind: model.KindSmoke, Time: now, Value: v}
	}
	s.observe(batchMessage(fac, "gw-1", "110105001", smoke("smoke-xj", 1), smoke("ghost", 1)), &b)
	if got := s.engine.Alerts(); len(got) != 0 {
		t.Fatalf("alerts from what the registry does not list: %+v", got)
	}
	s.observe(batchMessage(fac, "gw-1", "650102001", smoke("smoke-1", 1)), &b)
	s.observe(batchMessage(fac, "gw-1", "110105001", smoke("smoke-2", 1)), &b)
	alerts := s.engine.Alerts()
	rooms := map[string]string{}
	for _, a := range alerts {
		if a.Rule == "smoke_alarm" {
			rooms[a.Device] = a.Room
		}
	}
	if len(alerts) != 2 || rooms["smoke-2"] != "r2" || rooms["smoke-1"] == "" {
		t.Fatalf("alerts %+v, want smoke_alarm of smoke-1 (sent claiming Urumqi) and of smoke-2 in the registry's room r2", alerts)
	}
	for outcome, want := range map[string]float64{model.RejectUnregisteredGateway: 400, model.RejectRegionMismatch: 1, "batch": 3} {
		if got := testutil.ToFloat64(s.m.messages.WithLabelValues(outcome)); got != want {
			t.Errorf("messages{%s} = %v, want %v", outcome, got, want)
		}
	}
	for reason, want := range map[string]float64{model.RejectForeignDevice: 1, model.RejectUnregisteredDevice: 1} {
		if got := testutil.ToFloat64(s.m.readingsRejected.WithLabelValues(reason)); got != want {
			t.Errorf("unregistered readings{%s} = %v, want %v", reason, got, want)
		}
	}
	if n, err := testutil.GatherAndCount(preg, "cw_registry_facilities"); err != nil || n != 1 {
		t.Errorf("registry metrics: %d %v", n, err)
	}
}

// TestRegistryChangeReachesAlerting: an operator changed in the facility
// file gets the next alert, and a facility registered while the service
// runs is evaluated, without a restart.
func TestRegistryChangeReachesAlerting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bj.yaml")
	writeAtomic(t, path, regFacilityYAML("+8613800001111"))
	sms := &smsCapture{got: make(chan notify.Message, 16)}
	s, reg, _ := newRegistryService(t, dir, sms)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{s.evaluate, s.disp.Run, s.notifyLoop} {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	defer func() { cancel(); wg.Wait(); s.close() }()
	const fac = "110105001-0001"
	smoke := func(facility, gw, dev, room string, region model.Region) {
		now := time.Now()
		s.in <- batchMessage(facility, gw, region, model.Reading{Device: dev, Room: room, Kind: model.KindSmoke, Time: now, Value: 1})
	}
	next := func(what string) notify.Message {
		t.Helper()
		select {
		case m := <-sms.got:
			return m
		case <-time.After(30 * time.Second): // bounds the test; not a timing assertion
			t.Fatalf("no SMS for %s", what)
		}
		return notify.Message{}
	}
	smoke(fac, "gw-1", "smoke-1", "r1", "110105001")
	if m := next("smoke-1"); m.To.Phone != "+8613800001111" {
		t.Fatalf("first alert went to %s", registry.MaskPhone(m.To.Phone))
	}

	writeAtomic(t, path, regFacilityYAML("+8613900002222"))
	writeAtomic(t, filepath.Join(dir, "xj.yaml"), regOtherYAML+"operators: [{name: 园长, phone: \"+8613700003333\"}]\n")
	if changed, err := reg.Reload(context.Background()); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	smoke(fac, "gw-1", "smoke-2", "r2", "110105001")
	if m := next("smoke-2"); m.To.Phone != "+8613900002222" {
		t.Fatalf("the alert after the change went to %s, want the new operator", registry.MaskPhone(m.To.Phone))
	}
	smoke("650102001-0001", "gw-xj", "smoke-xj", "r1", "650102001")
	if m := next("the new facility's smoke"); m.To.Phone != "+8613700003333" {
		t.Fatalf("the new facility's alert went to %s", registry.MaskPhone(m.To.Phone))
	}
}
