package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// terminate stops the process with SIGTERM and waits: a clean shutdown,
// which saves the rules' memory.
func (p *alertingProcess) terminate() { p.stopWith(syscall.SIGTERM) }

// ackFacilityYAML: one room with a particle and formaldehyde sensor, and a
// smoke detector whose alarm marks the end of a test's stream.
func ackFacilityYAML(id, gw string) string {
	return fmt.Sprintf(`facility: {id: %q, name: 测试园, region: "110105001", timezone: Asia/Shanghai, opening_hours: ["mon-sun 00:00-24:00"]}
gateways: [%s]
rooms: [{id: r1, name: 活动室, type: activity}]
devices:
  - {id: aq-1, room: r1, source: s, address: aq, kinds: [pm25, hcho], interval: 0s}
  - {id: smoke-1, room: r1, source: s, address: smoke, kinds: [smoke], interval: 0s}
operators: [{name: 园长, phone: "13800000301", role: director}]
`, id, gw)
}

// airAlert is what the comparison reads of aq-1's alerts.
type airAlert struct {
	Fingerprint string
	Rule        string
	State       string
	Since       time.Time
	FiredAt     time.Time
}

// alerts reads aq-1's particle and formaldehyde alerts as the instance's
// state store holds them (its files: it may run beside the service).
func (p *alertingProcess) alerts(t *testing.T, facility string) []airAlert {
	t.Helper()
	var out []airAlert
	for _, rule := range []string{"hcho_hourly", "pm25_daily"} {
		hist := alertHistory(t, filepath.Join(filepath.Dir(p.conf), "alerting"), rule, facility, "r1", "aq-1")
		if len(hist) == 0 {
			continue
		}
		last := hist[len(hist)-1]
		out = append(out, airAlert{Fingerprint: last.Alert.Fingerprint, Rule: rule, State: last.To.String(),
			Since: last.Alert.Since.UTC(), FiredAt: last.Alert.FiredAt.UTC()})
	}
	slices.SortFunc(out, func(a, b airAlert) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
	return out
}

// airWindows reads the rules' memory a clean shutdown saved, for device
// aq-1.
func airWindows(t *testing.T, stateDir string) []rules.ThresholdState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, "series.json"))
	if err != nil {
		t.Fatal(err)
	}
	var snap rules.SeriesSnapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatal(err)
	}
	var out []rules.ThresholdState
	for _, fp := range []string{
		rules.Fingerprint("pm25_daily", "110105001-0301", "r1", "aq-1"),
		rules.Fingerprint("hcho_hourly", "110105001-0301", "r1", "aq-1"),
	} {
		for _, ts := range snap.Thresholds {
			if ts.Fingerprint == fp {
				out = append(out, ts)
			}
		}
	}
	if len(out) != 2 {
		t.Fatalf("series.json holds %d of the two air windows", len(out))
	}
	return out
}

// TestAlertingSIGKILLLosesNoEvaluation: 3,000 batches (some sent twice, as
// a gateway resends) wait at a real Mosquitto for two alerting instances
// with persistent sessions. One evaluates them without interruption; the
// other is killed with SIGKILL twice while it works through them (the
// messages it had taken from the broker and not acknowledged, and those in
// its memory, die with it) and started again each time. Every reading is
// evaluated in the end: the rolling means (buckets, counts, the readings
// they hold) and the alerts are the same in both.
func TestAlertingSIGKILLLosesNoEvaluation(t *testing.T) {
	// Mosquitto's default in-flight window (20): the kills land in the
	// middle of the stream, with messages in flight and most still queued.
	broker := testenv.Mosquitto(t, testenv.WithMaxInflight(20))
	const facility, gw = "110105001-0301", "gw-0301"
	dir := t.TempDir()
	facDir := filepath.Join(dir, "facilities")
	if err := os.MkdirAll(facDir, 0o750); err != nil {
		t.Fatal(err)
	}
	writeFile(t, facDir, facility+".yaml", ackFacilityYAML(facility, gw))
	rulesFile := writeRulesOverlay(t, dir, "")
	prov := newFakeAliyun(t)
	start := func(name string) (*alertingProcess, string) {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
		listen := freeAddr(t)
		conf := writeFile(t, d, "alerting.yaml", alertingYAML(broker.Addr(), listen, "cw-alerting-"+name, d, facDir, rulesFile, prov.endpoint(), accessYAML(t, d), ""))
		return startAlertingProcess(t, conf, listen), filepath.Join(d, "alerting")
	}
	ref, refState := start("ref")
	crash, crashState := start("crash")

	pub := newBatchPublisher(t, broker.Addr())
	// Both sessions exist at the broker once each instance has seen a
	// batch; then both stop, and the stream waits for them.
	waitUntil(t, 30*time.Second, "both instances subscribed", func() bool {
		pub.reading(t, facility, gw, "r1", "smoke-1", model.KindSmoke, 0)
		return ref.metric("cw_alerting_messages_total", `outcome="batch"`) >= 1 && crash.metric("cw_alerting_messages_total", `outcome="batch"`) >= 1
	})
	ref.terminate()
	crash.terminate()

	// Eight hours and twenty minutes of a sensor reporting every 10 s, all
	// older than the allowed lateness (replay: event times decide, not the
	// clock): PM2.5 over its daily limit throughout, formaldehyde over its
	// hourly limit in the last hour. Every 50th batch is sent twice.
	const n = 3000
	base := time.Now().Add(-10*time.Minute - n*10*time.Second).Truncate(time.Second)
	for i := range n {
		at := base.Add(time.Duration(i) * 10 * time.Second)
		hcho := 0.06
		if i >= n-360 {
			hcho = 0.10
		}
		b := model.Batch{Gateway: gw, Facility: facility, Region: "110105001", First: uint64(i + 1), Sent: at,
			Readings: []model.Reading{
				{Device: "aq-1", Room: "r1", Kind: model.KindPM25, Time: at, Value: 60},
				{Device: "aq-1", Room: "r1", Kind: model.KindHCHO, Time: at, Value: hcho},
			}}
		payload := model.EncodeBatch(nil, &b)
		pub.publish(t, model.Topic(facility, gw, model.SuffixBatch), payload)
		if i%50 == 49 {
			pub.publish(t, model.Topic(facility, gw, model.SuffixBatch), payload)
		}
	}
	// The end of the stream: the broker hands a session's queue over in
	// order, so when this smoke alarm is firing everything before it was
	// evaluated. (Stamped now: newer than the smoke detector's readings
	// that opened the sessions.)
	last := time.Now()
	end := model.Batch{Gateway: gw, Facility: facility, Region: "110105001", First: n + 1, Sent: last,
		Readings: []model.Reading{{Device: "smoke-1", Room: "r1", Kind: model.KindSmoke, Time: last, Value: 1}}}
	pub.publish(t, model.Topic(facility, gw, model.SuffixBatch), model.EncodeBatch(nil, &end))

	ref.start()
	waitUntil(t, 120*time.Second, "the reference instance through the stream", func() bool { return ref.firing(facility, "smoke_alarm", "r1", "smoke-1") })
	refAlerts := ref.alerts(t, facility)
	ref.terminate()

	rng := rand.New(rand.NewPCG(4, 2026))
	for kill := range 2 {
		crash.launch()
		// Killed once it has evaluated a few batches: most of the stream
		// is still at the broker or in flight.
		after := float64(1 + rng.IntN(200))
		deadline := time.Now().Add(60 * time.Second)
		for crash.metric("cw_alerting_batches_total") < after {
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: %v batches evaluated after 60 s", kill, crash.metric("cw_alerting_batches_total"))
			}
			time.Sleep(time.Millisecond) // polls the process, so that the kill lands early
		}
		if crash.firing(facility, "smoke_alarm", "r1", "smoke-1") {
			t.Fatalf("kill %d: the whole stream was evaluated before the kill: the test proves nothing", kill)
		}
		crash.kill()
	}
	crash.start()
	waitUntil(t, 120*time.Second, "the killed instance through the stream", func() bool { return crash.firing(facility, "smoke_alarm", "r1", "smoke-1") })
	if got := crash.metric("cw_alerting_batches_total"); got < 1 {
		t.Fatal("the last start evaluated nothing: the kills did not land in the stream")
	}
	crashAlerts := crash.alerts(t, facility)
	crash.terminate()

	if len(refAlerts) != 2 || !reflect.DeepEqual(refAlerts, crashAlerts) {
		t.Errorf("alerts without the crash %+v, with it %+v (want pm25_daily and hcho_hourly firing, the same)", refAlerts, crashAlerts)
	}
	want, got := airWindows(t, refState), airWindows(t, crashState)
	for i := range want {
		if !reflect.DeepEqual(want[i], got[i]) {
			t.Errorf("window %s differs (readings held %d without the crash, %d with it):\ncounts without %v\ncounts with    %v",
				want[i].Fingerprint, want[i].N, got[i].N, want[i].Window.Counts, got[i].Window.Counts)
		}
	}
}
