package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/fakealiyun"
	"github.com/cradlewatch/cradlewatch/internal/promtext"
	"github.com/cradlewatch/cradlewatch/model"
)

// The notification tests run the real alerting binary (built once per test
// run) against real Mosquitto, and a local server that speaks Aliyun's RPC
// protocol to the official SDK in place of the SMS and voice services.

// builtBinaries are the commands built for this test run, by name.
var builtBinaries sync.Map // name → func() (string, error)

// goBinary builds ./cmd/<name> once per test run. It goes to one fixed
// place in the temporary directory (a new build replaces the old by
// rename, which processes still running keep), so runs leave no trail.
func goBinary(t *testing.T, name string) string {
	t.Helper()
	build, _ := builtBinaries.LoadOrStore(name, sync.OnceValues(func() (string, error) {
		dir := filepath.Join(os.TempDir(), "cradlewatch-e2e")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		tmp, err := os.CreateTemp(dir, name+"-*.tmp")
		if err != nil {
			return "", err
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		if out, err := exec.Command("go", "build", "-o", tmp.Name(), "../cmd/"+name).CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
		}
		bin := filepath.Join(dir, name)
		return bin, os.Rename(tmp.Name(), bin)
	}))
	bin, err := build.(func() (string, error))()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// alertingBinary is cmd/alerting, built once per test run.
func alertingBinary(t *testing.T) string { return goBinary(t, "alerting") }

// alertingProcess is the alerting service as a child process.
type alertingProcess struct {
	t      *testing.T
	conf   string
	listen string
	cmd    *exec.Cmd
	log    *os.File
	mu     sync.Mutex
}

func startAlertingProcess(t *testing.T, conf, listen string) *alertingProcess {
	t.Helper()
	p := &alertingProcess{t: t, conf: conf, listen: listen}
	f, err := os.Create(conf + ".log")
	if err != nil {
		t.Fatal(err)
	}
	p.log = f
	t.Cleanup(func() {
		p.kill()
		f.Close()
		if t.Failed() {
			t.Logf("alerting output:\n%s", lastLines(p.output(), 60))
		}
	})
	p.start()
	return p
}

// start runs the binary and waits until it is connected to the broker.
func (p *alertingProcess) start() {
	p.t.Helper()
	p.launch()
	waitReady(p.t, "alerting process", p.listen)
}

// launch runs the binary without waiting for it.
func (p *alertingProcess) launch() {
	p.t.Helper()
	cmd := exec.Command(alertingBinary(p.t), "-config", p.conf)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
}

// kill sends SIGKILL and waits: nothing is flushed, nothing says goodbye.
func (p *alertingProcess) kill() { p.stopWith(syscall.SIGKILL) }

// stopWith sends sig and waits for the process to end.
func (p *alertingProcess) stopWith(sig os.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	p.cmd.Wait()
	p.cmd = nil
}

func (p *alertingProcess) output() string {
	b, _ := os.ReadFile(p.conf + ".log")
	return string(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// metric reads one sample of the process's /metrics (the sum over the
// series whose labels contain every one of match); -1 when it does not
// answer.
func (p *alertingProcess) metric(name string, match ...string) float64 {
	v, _, err := promtext.Get(nil, "http://"+p.listen+"/metrics", name, match...)
	if err != nil {
		return -1
	}
	return v
}

// firing reports whether the process's state store holds rule's alert of
// the facility's device as firing (read from its files: the alerting
// instance serves people nothing).
func (p *alertingProcess) firing(facility, rule, room, device string) bool {
	hist := alertHistory(p.t, filepath.Join(filepath.Dir(p.conf), "alerting"), rule, facility, room, device)
	return len(hist) > 0 && hist[len(hist)-1].To == rules.Firing
}

// freeAddr is a loopback address with a port free at the time of asking.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// providerCall is one request the fake provider answered (or was about to
// answer when the test killed the caller).
type providerCall = fakealiyun.Call

// fakeAliyun is the local server speaking Aliyun's SMS and voice protocol
// (internal/fakealiyun), stopped when the test ends.
type fakeAliyun struct{ *fakealiyun.Server }

func newFakeAliyun(t *testing.T) *fakeAliyun {
	s, err := fakealiyun.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &fakeAliyun{s}
}

// endpoint is what the aliyun blocks' endpoint key takes.
func (f *fakeAliyun) endpoint() string { return f.Endpoint() }

// delivered returns the calls answered OK for which keep is true.
func (f *fakeAliyun) delivered(keep func(providerCall) bool) []providerCall { return f.Delivered(keep) }

func (f *fakeAliyun) waitFor(n int, deadline time.Duration, keep func(providerCall) bool) []providerCall {
	return f.WaitFor(n, deadline, keep)
}

func (f *fakeAliyun) dump() string { return f.Dump() }

// sms selects SMS of template to phone; call, voice calls.
var sms, call = fakealiyun.SMS, fakealiyun.Voice

// checkOrder holds for every (number, episode): its resolution comes after
// a notice announcing the episode to that number, and nothing of the
// episode comes after its resolution.
func (f *fakeAliyun) checkOrder(t *testing.T) {
	t.Helper()
	for _, p := range fakealiyun.OrderProblems(f.Calls(), "T_RESOLVED") {
		t.Error(p)
	}
}

// batchPublisher plays gateways on the central broker: each reading is a
// live batch, stamped now.
type batchPublisher struct {
	c   mqtt.Client
	seq uint64
	mu  sync.Mutex
}

func newBatchPublisher(t *testing.T, broker string) *batchPublisher {
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID("notify-e2e-gateways").SetAutoReconnect(true)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &batchPublisher{c: c}
}

func (p *batchPublisher) publish(t *testing.T, topic string, payload []byte) {
	t.Helper()
	tok := p.c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// reading sends one reading of device in room as gateway gw of facility.
func (p *batchPublisher) reading(t *testing.T, facility, gw, room, device string, k model.Kind, v float64) {
	t.Helper()
	p.mu.Lock()
	p.seq++
	b := model.Batch{Gateway: gw, Facility: facility, Region: "110105001", First: p.seq, Sent: time.Now(),
		Readings: []model.Reading{{Device: device, Room: room, Kind: k, Time: time.Now(), Value: v}}}
	p.mu.Unlock()
	p.publish(t, model.Topic(facility, gw, model.SuffixBatch), model.EncodeBatch(nil, &b))
}

// status sends gateway gw's status: online, or its last will (offline,
// not clean).
func (p *batchPublisher) status(t *testing.T, facility, gw string, online bool) {
	t.Helper()
	st := model.Status{Gateway: gw, Facility: facility, Region: "110105001", State: model.GatewayOffline, TimeMs: time.Now().UnixMilli()}
	if online {
		st.State = model.GatewayOnline
	}
	p.publish(t, model.Topic(facility, gw, model.SuffixStatus), model.EncodeStatus(st))
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, deadline time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(deadline, cond) {
		t.Fatalf("%s: not within %s", what, deadline)
	}
}

// notifyFacilityYAML is a facility open around the clock with an infant
// room holding a smoke detector, a camera and five CO2 sensors (rooms
// r1..r5), and one operator. Its gateway is registered as gw-<the ID's
// last four characters>.
func notifyFacilityYAML(id, phone string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "facility: {id: %q, name: 测试园%s, region: \"110105001\", timezone: Asia/Shanghai, opening_hours: [\"mon-sun 00:00-24:00\"]}\n", id, id[len(id)-4:])
	fmt.Fprintf(&b, "gateways: [gw-%s]\n", id[len(id)-4:])
	b.WriteString("rooms:\n  - {id: room-1, name: 乳儿班, type: infant}\n")
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&b, "  - {id: r%d, name: 活动室%d, type: activity}\n", i, i)
	}
	b.WriteString("devices:\n  - {id: smoke-1, room: room-1, source: s, address: smoke, kinds: [smoke], interval: 0s}\n")
	b.WriteString("  - {id: cam-1, room: room-1, source: s, address: cam, kinds: [camera_online], interval: 0s}\n")
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&b, "  - {id: co2-%d, room: r%d, source: s, address: co2-%d, kinds: [co2], interval: 0s}\n", i, i, i)
	}
	fmt.Fprintf(&b, "operators:\n  - {name: 园长, phone: %q, role: director}\n", phone)
	return b.String()
}

// notifyRulesOverride makes a warning fire at once (camera_offline without
// its 5 minutes) and the CO2 warning judge each reading (no hourly mean).
func notifyRulesOverride(facilities ...string) string {
	var b strings.Builder
	for _, id := range facilities {
		fmt.Fprintf(&b, "    %q:\n      rules:\n        camera_offline: {for: 0s}\n        co2_hourly: {window: 0s, buckets: 0, min_coverage: 0}\n", id)
	}
	return b.String()
}

// Contacts of the test's offices.
const (
	streetPhone = "13900000201"
	countyPhone = "13700000201"
)

// alertingYAML is the service's configuration for a notification test:
// events off (InfluxDB is not the subject here), the fake provider for SMS
// and voice, the test's template codes, its ctl and access sections
// (accessYAML), and notify, the rest of the notify section (indented by
// four spaces).
func alertingYAML(broker, listen, clientID, dir, facilities, rules, endpoint, access, notify string) string {
	return fmt.Sprintf(`mqtt: {broker: %s, client_id: %s}
facilities: %s
rules: %s
calendar_dir: ""
state_dir: %s
tick_interval: 200ms
events: {enabled: false}
http: {listen: %s}
log: {format: text, level: info}
%snotify:
  state_dir: %s
  budget: {per_day: 100, per_window: 100, window: 1s}
  retry: {max_attempts: 10, initial_backoff: 300ms, max_backoff: 1s, attempt_timeout: 3s}
  directory:
    regions:
      "110105001": [{id: street, name: 街道办, phone: %q}]
      "110105": [{id: county, name: 区卫健委, phone: %q}]
  templates:
    zh:
      sms: {firing: T_FIRING, escalation: T_ESCALATION, reminder: T_REMINDER, resolved: T_RESOLVED}
      voice: {firing: V_FIRING, escalation: V_ESCALATION}
  sms_provider: aliyun
  voice_provider: aliyun
  aliyun: {access_key_id: ak, access_key_secret: sk, sign_name: 托育安全, endpoint: %q, scheme: HTTP, timeout: 3s}
  aliyun_voice: {endpoint: %q, scheme: HTTP, timeout: 3s}
%s`, broker, clientID, facilities, rules, filepath.Join(dir, "alerting"), listen, access, filepath.Join(dir, "notify"),
		streetPhone, countyPhone, endpoint, endpoint, notify)
}
