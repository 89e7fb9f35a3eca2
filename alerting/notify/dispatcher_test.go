package notify

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/internal/recordlog"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.advance(d)
	return nil
}
func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// recorder is a fake channel: it records messages and answers from a script.
type recorder struct {
	mu     sync.Mutex
	sent   []Message
	script []error // consumed per call; nil = success
}

func (r *recorder) Notify(_ context.Context, m Message) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.script) > 0 {
		err := r.script[0]
		r.script = r.script[1:]
		if err != nil {
			var pe *ProviderError
			return errors.As(err, &pe) && pe.Kind == Transient, err
		}
	}
	r.sent = append(r.sent, m)
	return false, nil
}

func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.sent) }

var t0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))

// testPhones is the tests' phone keyer (a key of the test's own).
var testPhones = func() *audit.PhoneKeyer {
	k, err := audit.NewPhoneKeyer([]byte("notify-test-phone-key-0123456789abcdef"))
	if err != nil {
		panic(err)
	}
	return k
}()

// testPhonesOther is a keyer under another key.
func testPhonesOther() *audit.PhoneKeyer {
	k, _ := audit.NewPhoneKeyer([]byte("another-deployment-phone-key-0123456789"))
	return k
}

func seeded(n uint64) *rand.Rand {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], n)
	return rand.New(rand.NewChaCha8(seed))
}

type rig struct {
	d        *Dispatcher
	clock    *fakeClock
	sms, dt  *recorder
	reg      *prometheus.Registry
	logs     *bytes.Buffer
	cfg      Config
	notifier map[Channel]Notifier
}

func testConfig(dir string) Config {
	return Config{
		StateDir:  dir,
		GroupWait: 30 * time.Second,
		Templates: map[string]LangSet{"zh": {SMS: map[Kind]string{KindFiring: "SMS_1", KindEscalation: "SMS_2", KindReminder: "SMS_3", KindResolved: "SMS_4"}}},
		Directory: Directory{
			Operators: map[string][]Contact{"fac-1": {{ID: "op1", Phone: "13812341234", DingTalk: "http://robot.invalid/op1"}}},
			Regions: map[string][]Contact{
				"110105001": {{ID: "street", Phone: "13900001111"}},
				"110105":    {{ID: "county", Phone: "13700002222", Webhook: "http://hook.invalid"}},
			},
		},
	}
}

func newRig(t *testing.T, cfg Config, clock *fakeClock, sms, dt *recorder) *rig {
	t.Helper()
	logs := &bytes.Buffer{}
	reg := prometheus.NewRegistry()
	notifiers := map[Channel]Notifier{ChannelSMS: sms, ChannelDingTalk: dt, ChannelWebhook: dt}
	d, err := New(Options{Config: cfg, Notifiers: notifiers, Clock: clock, Registerer: reg, Rand: seeded(1), Phones: testPhones,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return &rig{d: d, clock: clock, sms: sms, dt: dt, reg: reg, logs: logs, cfg: cfg, notifier: notifiers}
}

func co2(state State) Alert {
	return Alert{Fingerprint: "fp-co2", Rule: "co2_1h", Facility: "fac-1", FacilityName: "阳光托育", Room: "乳儿班",
		Region: "110105001", Severity: SeverityCritical, State: state, What: "二氧化碳浓度过高", Value: "1650ppm",
		Limit: "1000ppm", StartsAt: t0, At: t0}
}

// co2w is co2 as a warning: its notices wait group_wait and go out on the
// first channel that works, as every notice did before critical alerts
// left at once on every channel.
func co2w(state State) Alert {
	a := co2(state)
	a.Severity = SeverityWarning
	return a
}

// handle hands a to the dispatcher.
func (r *rig) handle(t *testing.T, a Alert) {
	t.Helper()
	if err := r.d.Handle(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

// wantSMS checks every SMS sent so far, as recipient/channel in order.
func (r *rig) wantSMS(t *testing.T, want string) {
	t.Helper()
	if got := strings.Join(recipients(r.sms.sent), ","); got != want {
		t.Fatalf("SMS to %s, want %s", got, want)
	}
}

// step advances the fake clock and ticks.
func (r *rig) step(t *testing.T, d time.Duration) {
	t.Helper()
	r.clock.advance(d)
	if err := r.d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func recipients(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.To.ID+"/"+string(m.Channel))
	}
	return out
}

func TestEscalationScheduleAckAndRestart(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(dir), clock, sms, dt)
	ctx := context.Background()
	r.handle(t, co2(StateFiring))
	if sms.count() != 0 {
		t.Fatalf("Handle sent by itself: %v", recipients(sms.sent))
	}
	// A critical alert does not wait group_wait (30 s here): the next round
	// of the sender, at the same instant, sends it.
	r.step(t, 0)
	if got := recipients(sms.sent); strings.Join(got, ",") != "op1/sms" {
		t.Fatalf("at once: %v", got)
	}
	if got := recipients(dt.sent); strings.Join(got, ",") != "op1/dingtalk" {
		t.Fatalf("a critical alert goes out on every channel the operator has: %v", got)
	}
	m := sms.sent[0]
	if m.Template != "SMS_1" || m.Params[ParamFacility] != "阳光托育" || m.Params[ParamValue] != "1650ppm" || len(m.Params[ParamCode]) != AckCodeDigits {
		t.Fatalf("message: %+v", m)
	}
	code := m.Params[ParamCode]

	// Restart in the middle: reopen the state files.
	r.d.Close()
	r = newRig(t, testConfig(dir), clock, sms, dt)
	if err := r.d.Handle(ctx, co2(StateFiring)); err != nil { // engine re-emits after its own restart
		t.Fatal(err)
	}
	r.step(t, 10*time.Minute-time.Second) // 09:09:59: nothing new
	if got := strings.Join(recipients(sms.sent), ","); got != "op1/sms" {
		t.Fatalf("before 10 min: %v", got)
	}
	r.step(t, time.Second) // 09:10:00: the street step, on time
	if got := strings.Join(recipients(sms.sent), ","); got != "op1/sms,street/sms" {
		t.Fatalf("at 10 min: %v", got)
	}
	if sms.sent[1].Template != "SMS_2" {
		t.Fatalf("escalation template %q", sms.sent[1].Template)
	}

	// Acknowledge with the code from the SMS (a command of the front door).
	if _, err := r.d.Ack(code, "person:zhang (园长张)", "ctl"); err != nil {
		t.Fatalf("ack by code: %v", err)
	}
	if _, err := r.d.Ack("000000x", "person:x", "ctl"); !errors.Is(err, ErrUnknownAck) {
		t.Fatalf("unknown code: %v", err)
	}

	// Restart again: ack survives; county step and reminders never come.
	r.d.Close()
	r = newRig(t, testConfig(dir), clock, sms, dt)
	for range 6 {
		r.step(t, 10*time.Minute)
	}
	if got := strings.Join(recipients(sms.sent), ","); got != "op1/sms,street/sms" {
		t.Fatalf("after ack: %v", got)
	}
	// Resolution tells everyone reached.
	res := co2(StateResolved)
	res.At = clock.Now()
	r.handle(t, res)
	r.step(t, 0)
	if got := strings.Join(recipients(sms.sent), ","); got != "op1/sms,street/sms,op1/sms,street/sms" {
		t.Fatalf("after resolve: %v", got)
	}
}

func TestRemindersUntilAckAndCountyStep(t *testing.T) {
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	cfg := testConfig(t.TempDir())
	cfg.Budget = BudgetConfig{PerDay: 50, PerWindow: 5}
	r := newRig(t, cfg, clock, sms, dt)
	r.handle(t, co2(StateFiring))
	for range 31 * 2 { // 31 minutes in 30 s steps
		r.step(t, 30*time.Second)
	}
	var kinds []string
	for _, m := range sms.sent {
		kinds = append(kinds, m.To.ID+":"+m.Template)
	}
	// op1 firing; street at 10m; reminder at 25m (15 min after the 10 min step) to op1+street; county at 30m.
	want := "op1:SMS_1,street:SMS_2,op1:SMS_3,street:SMS_3,county:SMS_2"
	if got := strings.Join(kinds, ","); got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if got := testutil.ToFloat64(r.d.metrics.escalations.WithLabelValues("county")); got != 1 {
		t.Fatalf("county escalations %v", got)
	}
	// Reminders go out on the first channel that works (SMS); the
	// critical firing and escalation notices on every channel: op1's robot
	// and the county's webhook.
	if got := strings.Join(recipients(dt.sent), ","); got != "op1/dingtalk,county/webhook" {
		t.Fatalf("other channels: %s", got)
	}
}

func TestSilencedAlertRecordedNotSent(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(dir), clock, sms, dt)
	if _, err := r.d.AddSilence(Silence{Facility: "fac-1", Start: t0.Add(-time.Hour), End: t0.Add(time.Hour), CreatedBy: "李工", Reason: "新风系统检修"}); err != nil {
		t.Fatal(err)
	}
	r.d.Close()
	r = newRig(t, testConfig(dir), clock, sms, dt) // the silence survives a restart
	r.handle(t, co2(StateFiring))
	r.step(t, time.Minute)
	if sms.count()+dt.count() != 0 {
		t.Fatalf("silenced alert sent: %v", recipients(sms.sent))
	}
	if got := testutil.ToFloat64(r.d.metrics.notifications.WithLabelValues("none", resultSilenced)); got != 1 {
		t.Fatalf("silenced count %v", got)
	}
	var found bool
	r.d.Close()
	l, err := openNflog(dir+"/"+LogFile, nil, nil, func(es []LogEntry) {
		for _, e := range es {
			if e.Outcome == OutcomeSilenced && strings.Contains(e.Detail, "李工") && strings.Contains(e.Detail, "检修") {
				found = true
			}
		}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.close()
	if !found {
		t.Fatal("silenced alert not recorded with author and reason")
	}
}

// TestBudgetFallbackRetryAndMasking: a warning goes out on the first
// channel that works, retrying transient failures.
func TestBudgetFallbackRetryAndMasking(t *testing.T) {
	tests := []struct {
		name      string
		script    []error
		wantSMS   int
		wantDT    int
		exhausted float64
		retries   float64
	}{
		{"provider budget answer goes to fallback", []error{&ProviderError{Channel: ChannelSMS, Kind: Budget, Code: "isv.BUSINESS_LIMIT_CONTROL"}}, 0, 1, 1, 0},
		{"5xx twice then ok", []error{&ProviderError{Kind: Transient, Status: 503}, &ProviderError{Kind: Transient, Status: 502}}, 1, 0, 0, 2},
		{"permanent: no retry, fallback", []error{&ProviderError{Kind: Permanent, Code: "isv.SMS_TEMPLATE_ILLEGAL"}}, 0, 1, 0, 0},
		{"transient until attempts run out: fallback", []error{&ProviderError{Kind: Transient}, &ProviderError{Kind: Transient}, &ProviderError{Kind: Transient}, &ProviderError{Kind: Transient}}, 0, 1, 0, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: t0}
			sms, dt := &recorder{script: tc.script}, &recorder{}
			r := newRig(t, testConfig(t.TempDir()), clock, sms, dt)
			r.handle(t, co2w(StateFiring))
			r.step(t, 30*time.Second)
			for range 4 { // retries are scheduled, not slept: a minute covers their backoff
				r.step(t, time.Minute)
			}
			if sms.count() != tc.wantSMS || dt.count() != tc.wantDT {
				t.Fatalf("sms %d dingtalk %d", sms.count(), dt.count())
			}
			if got := testutil.ToFloat64(r.d.metrics.budgetExhausted); got != tc.exhausted {
				t.Fatalf("exhausted %v", got)
			}
			if got := testutil.ToFloat64(r.d.metrics.retries.WithLabelValues("sms")); got != tc.retries {
				t.Fatalf("retries %v", got)
			}
			if got := testutil.ToFloat64(r.d.metrics.fallbacks.WithLabelValues("dingtalk")); got != float64(tc.wantDT) {
				t.Fatalf("fallbacks to dingtalk %v", got)
			}
			if strings.Contains(r.logs.String(), "13812341234") {
				t.Fatalf("full phone number in logs:\n%s", r.logs.String())
			}
			if tc.exhausted > 0 && !strings.Contains(r.logs.String(), "138****1234") {
				t.Fatalf("masked number missing from logs:\n%s", r.logs.String())
			}
		})
	}
}

func TestLocalBudgetAndDedupAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	cfg := testConfig(dir)
	cfg.Budget = BudgetConfig{PerDay: 2, PerWindow: 1}
	cfg.Policies = map[string]Policy{"warning": {Steps: []Step{{Name: "operator", Targets: []Target{TargetOperator}}}}}
	r := newRig(t, cfg, clock, sms, dt)
	for i := range 4 { // four distinct warnings, minutes apart
		a := co2w(StateFiring)
		a.Fingerprint = "fp-" + string(rune('a'+i))
		a.StartsAt = clock.Now()
		r.handle(t, a)
		r.step(t, time.Minute)
		if i == 1 { // restart: the budget is rebuilt from the log
			r.d.Close()
			r = newRig(t, cfg, clock, sms, dt)
		}
	}
	if sms.count() != 2 || dt.count() != 2 {
		t.Fatalf("sms %d (want 2 = per_day), dingtalk %d (want 2)", sms.count(), dt.count())
	}
	// Queuing a notice already delivered sends nothing.
	a := co2w(StateFiring)
	a.Fingerprint = "fp-a"
	a.StartsAt = t0
	r.d.mu.Lock()
	err := r.d.commit(&outboxRecord{}, []Due{{Alert: a, Kind: KindFiring, Step: "operator", Recipients: cfg.Directory.Operators["fac-1"]}}, clock.Now())
	r.d.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	r.step(t, time.Minute)
	if sms.count()+dt.count() != 4 {
		t.Fatalf("duplicate sent: sms %d dingtalk %d", sms.count(), dt.count())
	}
}

// TestGroupingOneMessagePerFacility: a facility's warnings arriving within
// group_wait leave as one SMS that carries every alert's code.
func TestGroupingOneMessagePerFacility(t *testing.T) {
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(t.TempDir()), clock, sms, dt)
	for i, what := range []string{"二氧化碳浓度过高", "温度过高", "甲醛超标"} {
		a := co2w(StateFiring)
		a.Fingerprint, a.What = "fp-"+what, what
		r.handle(t, a)
		clock.advance(time.Duration(i) * 5 * time.Second)
	}
	r.step(t, 30*time.Second)
	if sms.count() != 1 {
		t.Fatalf("want one grouped SMS, got %d", sms.count())
	}
	if got := sms.sent[0].Params[ParamWhat]; !strings.HasSuffix(got, "等3项") {
		t.Fatalf("what = %q", got)
	}
	codes := strings.Split(sms.sent[0].Params[ParamCode], "、")
	if len(codes) != 3 {
		t.Fatalf("codes %q: want every alert's", sms.sent[0].Params[ParamCode])
	}
	for _, c := range codes {
		if _, err := r.d.AckBySMS(c, testPhones.Key("13812341234"), "sms:op1", "sms"); err != nil {
			t.Fatalf("code %s from the grouped SMS: %v", c, err)
		}
	}
}

// TestNflogDamage: a torn tail is cut off; a damaged record in the middle
// is quarantined and the records after it still count (dedup).
func TestNflogDamage(t *testing.T) {
	dir := t.TempDir()
	l, err := openNflog(dir+"/log", nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if err := l.append(LogEntry{At: t0, Outcome: OutcomeSent, Key: k}); err != nil {
			t.Fatal(err)
		}
	}
	l.close()
	b, _ := os.ReadFile(dir + "/log")
	b[len(recordlog.Header)+recordlog.FrameLen+3] ^= 0xff // inside record "a"
	b = append(b, 1, 2, 3)                                // a torn append
	os.WriteFile(dir+"/log", b, 0o600)
	l, err = openNflog(dir+"/log", nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.done("a") || !l.done("b") || !l.done("c") {
		t.Fatal("wrong entries after repair")
	}
	r := l.l.Recovery()
	if !r.Torn() || r.Err() == nil {
		t.Fatalf("recovery %+v", r)
	}
	if err := l.append(LogEntry{At: t0, Outcome: OutcomeSent, Key: "d"}); err != nil {
		t.Fatal(err)
	}
	l.close()
	l, err = openNflog(dir+"/log", nil, nil, nil, nil)
	if err != nil || !l.done("d") || !l.done("b") || len(l.l.Recovery().Regions) != 0 {
		t.Fatalf("after repair: %v", err)
	}
	l.close()
}

// TestNflogLegacyFormat: a log in the line format of earlier releases is
// converted, its entries kept.
func TestNflogLegacyFormat(t *testing.T) {
	dir := t.TempDir()
	var b []byte
	for _, k := range []string{"a", "b"} {
		body, _ := json.Marshal(LogEntry{At: t0, Outcome: OutcomeSent, Key: k, Channel: ChannelSMS, PhoneKey: "pk"})
		b = fmt.Appendf(b, "%08x %s\n", crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)), body)
	}
	os.WriteFile(dir+"/log", b, 0o600)
	bud := newBudget(BudgetConfig{PerDay: 10})
	l, err := openNflog(dir+"/log", nil, nil, bud.replay, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	if !l.done("a") || !l.done("b") || len(bud.sent["pk"]) != 2 {
		t.Fatalf("legacy entries lost: %v %v", l.finished, bud.sent)
	}
}

// TestRegulatorsHearAtOnce: an alert marked for the regulators (a gateway
// silent during opening hours) reaches the street office with the
// operators, not ten minutes later.
func TestRegulatorsHearAtOnce(t *testing.T) {
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(t.TempDir()), clock, sms, dt)
	a := co2(StateFiring)
	a.Regulators = true
	r.handle(t, a)
	r.step(t, 0)
	r.wantSMS(t, "op1/sms,street/sms")
	// The resolution reaches everyone the alert reached: the street office
	// too, though no escalation step named it.
	res := a
	res.State, res.At = StateResolved, clock.Now().Add(time.Minute)
	clock.advance(time.Minute)
	r.handle(t, res)
	r.step(t, 0)
	r.wantSMS(t, "op1/sms,street/sms,op1/sms,street/sms")
}

// TestFiringAndResolvedWithinGroupWait: an alert that fires and resolves
// before its group is sent is still announced, then resolved, in that
// order; never a "resolved" for something the operator was not told of.
func TestFiringAndResolvedWithinGroupWait(t *testing.T) {
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(t.TempDir()), clock, sms, dt)
	r.handle(t, co2w(StateFiring))
	r.step(t, 5*time.Second)
	r.handle(t, co2w(StateResolved))
	r.step(t, 30*time.Second)
	r.step(t, 30*time.Second)
	if len(sms.sent) != 2 || sms.sent[0].Template != "SMS_1" || sms.sent[1].Template != "SMS_4" {
		var kinds []string
		for _, m := range sms.sent {
			kinds = append(kinds, m.Template)
		}
		t.Fatalf("sent %v, want the firing notice then the resolution", kinds)
	}
}

// TestEpisodesWithinOneSecond: an alarm that clears and goes off again
// within a second is a second episode, announced and resolved like the
// first. Episodes were named by the second they started in, so the second
// firing was taken for the first and dropped without a word (found by the
// chaos suite's alarm-latency benchmark).
func TestEpisodesWithinOneSecond(t *testing.T) {
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(t.TempDir()), clock, sms, dt)
	start := t0.Add(100 * time.Millisecond)
	for i := range 3 {
		a := co2(StateFiring)
		a.StartsAt = start.Add(time.Duration(i) * 80 * time.Millisecond)
		a.At = a.StartsAt
		clock.mu.Lock()
		clock.now = a.At
		clock.mu.Unlock()
		r.handle(t, a)
		r.step(t, 0)
		a.State, a.At = StateResolved, a.StartsAt.Add(20*time.Millisecond)
		clock.advance(20 * time.Millisecond)
		r.handle(t, a)
		r.step(t, 0)
	}
	var got []string
	for _, m := range sms.sent {
		if m.To.ID == "op1" {
			got = append(got, m.Template)
		}
	}
	if want := "SMS_1 SMS_4 SMS_1 SMS_4 SMS_1 SMS_4"; strings.Join(got, " ") != want {
		t.Fatalf("SMS to the operator: %v, want %s (each episode fired and resolved)", got, want)
	}
}

func TestEpisodeNames(t *testing.T) {
	a := Alert{Fingerprint: "fp", StartsAt: time.Unix(1796153423, 0)}
	if got := a.episode(); got != "fp@1796153423" {
		t.Errorf("whole second: %s, want the name an older version wrote", got)
	}
	a.StartsAt = time.UnixMilli(1796153423326)
	if got := a.episode(); got != "fp@1796153423.326" {
		t.Errorf("with milliseconds: %s", got)
	}
}
