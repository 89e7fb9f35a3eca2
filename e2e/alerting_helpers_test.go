package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting"
	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/gateway"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
)

// SMS template codes of the test configuration, one per notification kind,
// so a captured message tells what kind of notice it is.
var testTemplates = map[notify.Kind]string{
	notify.KindFiring:     "T_FIRING",
	notify.KindEscalation: "T_ESCALATION",
	notify.KindReminder:   "T_REMINDER",
	notify.KindResolved:   "T_RESOLVED",
}

// pollEvery is how often the helpers look again; deadlines bound the tests,
// assertions are never on how long something took.
const pollEvery = 200 * time.Millisecond

// sent is one message a notifier was asked to deliver.
type sent struct {
	At  time.Time // when the notifier was called (wall clock)
	Msg notify.Message
}

// kind is the notification kind, read back from the template code.
func (s sent) kind() notify.Kind {
	for k, code := range testTemplates {
		if code == s.Msg.Template {
			return k
		}
	}
	return notify.Kind("unknown:" + s.Msg.Template)
}

// covers reports whether the message carries an alert of rule in facility.
func (s sent) covers(facility, rule string) bool {
	return slices.ContainsFunc(s.Msg.Alerts, func(a notify.Alert) bool { return a.Facility == facility && a.Rule == rule })
}

func (s sent) String() string {
	var alerts []string
	for _, a := range s.Msg.Alerts {
		alerts = append(alerts, a.Facility+"/"+a.Rule+"/"+a.Room+"/"+a.Device)
	}
	return fmt.Sprintf("%s %s to %s %v", s.At.Format("15:04:05.000"), s.kind(), s.Msg.To.ID, alerts)
}

// capture is an SMS notifier that records every message and always
// succeeds: what an operator's or a regulator's phone would receive.
type capture struct {
	mu   sync.Mutex
	msgs []sent
}

func (c *capture) Notify(_ context.Context, m notify.Message) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, sent{At: time.Now(), Msg: m})
	return false, nil
}

func (c *capture) all() []sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}

// matching returns the captured messages for which keep is true.
func (c *capture) matching(keep func(sent) bool) []sent {
	var out []sent
	for _, s := range c.all() {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// waitFor polls until at least n captured messages satisfy keep, or the
// deadline passes; it returns what matched.
func (c *capture) waitFor(n int, deadline time.Duration, keep func(sent) bool) []sent {
	end := time.Now().Add(deadline)
	for {
		got := c.matching(keep)
		if len(got) >= n || time.Now().After(end) {
			return got
		}
		time.Sleep(pollEvery)
	}
}

func (c *capture) dump() string {
	var b strings.Builder
	for _, s := range c.all() {
		b.WriteString("  " + s.String() + "\n")
	}
	return b.String()
}

// of selects messages of one kind about one rule of one facility.
func of(k notify.Kind, facility, rule string) func(sent) bool {
	return func(s sent) bool { return s.kind() == k && s.covers(facility, rule) }
}

// writeRulesOverlay copies configs/rules.yaml and puts per-facility
// overrides (YAML indented for the "facilities:" key) in place of its empty
// "facilities: {}", as the demo does.
func writeRulesOverlay(t *testing.T, dir, facilities string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "configs", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "  facilities: {}"
	if !bytes.Contains(b, []byte(anchor)) {
		t.Fatalf("configs/rules.yaml has no %q line to lay the test overrides over", anchor)
	}
	return writeFile(t, dir, "rules.yaml", string(bytes.Replace(b, []byte(anchor), []byte("  facilities:\n"+facilities), 1)))
}

// notifyConfig is the notification path of the tests: short group_wait, an
// SMS budget that never interferes, the test's template codes.
func notifyConfig(stateDir string, policies map[string]notify.Policy, regions map[string][]notify.Contact) notify.Config {
	return notify.Config{
		StateDir:  stateDir,
		GroupWait: time.Second,
		Budget:    notify.BudgetConfig{PerDay: 1000, PerWindow: 1000, Window: time.Second},
		Retry:     notify.RetryConfig{MaxAttempts: 2, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, AttemptTimeout: 5 * time.Second},
		Fallback:  []notify.Channel{},
		Policies:  policies,
		Directory: notify.Directory{Regions: regions},
		Templates: map[string]notify.LangSet{"zh": {SMS: testTemplates}},
	}
}

// alertingConfig is the alerting service's configuration for a test.
func alertingConfig(broker string, inf *influxd.Server, facilities, rules, stateDir string, n notify.Config) alerting.Config {
	cfg := alerting.DefaultConfig()
	cfg.MQTT = mqttx.Config{Broker: broker, ClientID: "cw-alerting-e2e"}
	cfg.Facilities = facilities
	cfg.Rules = rules
	cfg.CalendarDir = "" // no public holidays: the tests choose open and closed hours themselves
	cfg.StateDir = stateDir
	cfg.TickInterval = 500 * time.Millisecond
	cfg.Events.Influx.URL = inf.URL()
	cfg.Events.Influx.Database = db
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Notify.Config = n
	cfg.Notify.SMSProvider = "log" // not used: the test injects its notifier
	return cfg
}

// alertingRun is one alerting service running in this process.
type alertingRun struct {
	svc    *alerting.Service
	cancel context.CancelFunc
	done   chan error
}

// startAlerting starts the service with the capturing SMS notifier and
// waits until it is connected to the broker (/readyz).
func startAlerting(t *testing.T, cfg alerting.Config, sms notify.Notifier) *alertingRun {
	t.Helper()
	ensureAccess(t, &cfg)
	reg := prometheus.NewRegistry()
	svc, err := alerting.New(alerting.Options{
		Config: cfg, Notifiers: map[notify.Channel]notify.Notifier{notify.ChannelSMS: sms},
		Logger: testLogger(t), Registerer: reg, Gatherer: reg,
	})
	if err != nil {
		t.Fatalf("alerting: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &alertingRun{svc: svc, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- svc.Run(ctx) }()
	t.Cleanup(r.stop)
	waitReady(t, "alerting", svc.HTTPAddr())
	return r
}

// stop cancels the service and waits for Run to return; idempotent.
func (r *alertingRun) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.cancel = nil
}

func (r *alertingRun) url(path string) string { return "http://" + r.svc.HTTPAddr() + path }

// waitReady polls GET /readyz until it answers 200.
func waitReady(t *testing.T, what, addr string) {
	t.Helper()
	end := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(end) {
			t.Fatalf("%s at %s not ready after 30 s (last error %v)", what, addr, err)
		}
		time.Sleep(pollEvery)
	}
}

// startGateway runs a gateway in this process until the test ends and
// waits until it is connected to its local broker.
func startGateway(t *testing.T, conf string) {
	t.Helper()
	cfg := gateway.DefaultConfig()
	if err := config.Load(conf, &cfg); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g, err := gateway.New(gateway.Options{Config: cfg, Logger: testLogger(t), Registerer: reg, Gatherer: reg, Version: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitReady(t, "gateway "+cfg.Gateway, g.HTTPAddr())
}

// postJSON posts body as JSON and returns the status code and the answer.
func postJSON(t *testing.T, url string, body any) (int, string) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

// eventQuery counts alert_event points of one rule of one facility in one
// state.
func eventQuery(facility, rule, state string) string {
	return fmt.Sprintf(`SELECT count(fingerprint) FROM alert_event WHERE facility = '%s' AND rule = '%s' AND state = '%s'`,
		facility, rule, state)
}
