package notify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// crash abandons r's dispatcher as a SIGKILL would (nothing flushed, no
// Close: every promise must already be on disk) and starts a new one on
// the same state directory.
func crash(t *testing.T, r *rig) *rig {
	t.Helper()
	return newRig(t, r.cfg, r.clock, r.sms, r.dt)
}

// TestGroupWaitsBySeverityAndRule: critical alerts leave at once, warnings
// after group_wait, a rule with its own wait after that, and 0 means 0.
func TestGroupWaitsBySeverityAndRule(t *testing.T) {
	tests := []struct {
		name  string
		cfg   func(*Config)
		alert func() Alert
		wait  time.Duration
	}{
		{"critical at once", nil, func() Alert { return co2(StateFiring) }, 0},
		{"warning waits group_wait", nil, func() Alert { return co2w(StateFiring) }, 30 * time.Second},
		{"warning with group_wait 0", func(c *Config) { c.GroupWait = 0 }, func() Alert { return co2w(StateFiring) }, 0},
		{"critical with its own wait", func(c *Config) { c.GroupWaitCritical = 5 * time.Second }, func() Alert { return co2(StateFiring) }, 5 * time.Second},
		{"rule wait beats severity", func(c *Config) { c.GroupWaitRules = map[string]time.Duration{"co2_1h": 2 * time.Minute} },
			func() Alert { return co2w(StateFiring) }, 2 * time.Minute},
		{"rule wait 0 beats severity", func(c *Config) { c.GroupWaitRules = map[string]time.Duration{"co2_1h": 0} },
			func() Alert { return co2w(StateFiring) }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			clock := &fakeClock{now: t0}
			sms, dt := &recorder{}, &recorder{}
			r := newRig(t, cfg, clock, sms, dt)
			r.handle(t, tc.alert())
			if tc.wait > 0 {
				r.step(t, tc.wait-time.Nanosecond)
				if sms.count() != 0 {
					t.Fatalf("sent before its wait of %s", tc.wait)
				}
			}
			r.step(t, time.Nanosecond)
			if sms.count() != 1 {
				t.Fatalf("not sent when its wait of %s was over (%d SMS)", tc.wait, sms.count())
			}
			if got := r.d.nextWake(); !got.IsZero() && !got.After(clock.Now()) {
				t.Fatalf("next wake %s is not in the future", got)
			}
		})
	}
}

// TestEscalationStepsOnTimeDespiteGroupWait: an escalation step leaves at
// its time, not its time plus the grouping window; the dispatcher asks to
// be woken exactly then.
func TestEscalationStepsOnTimeDespiteGroupWait(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.GroupWaitCritical = 20 * time.Second
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, cfg, clock, sms, dt)
	r.handle(t, co2(StateFiring))
	r.step(t, 20*time.Second)
	if got := r.d.nextWake(); !got.Equal(t0.Add(10 * time.Minute)) {
		t.Fatalf("next wake %s, want the street step at %s", got, t0.Add(10*time.Minute))
	}
	clock.now = t0.Add(10 * time.Minute)
	r.step(t, 0)
	r.wantSMS(t, "op1/sms,street/sms")
}

// TestCrashInsideGroup: a warning waiting in its group survives a crash
// and leaves at its original deadline; the escalation continues.
func TestCrashInsideGroup(t *testing.T) {
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(t.TempDir()), clock, sms, dt)
	r.handle(t, co2w(StateFiring))
	r.step(t, 10*time.Second)
	r = crash(t, r)
	if r.d.Pending() != 1 {
		t.Fatalf("pending after restart %d, want the warning's notice", r.d.Pending())
	}
	r.step(t, 19*time.Second)
	if sms.count() != 0 {
		t.Fatal("sent before the group's deadline")
	}
	r.step(t, time.Second)
	if sms.count() != 1 {
		t.Fatalf("the notice of the group was lost in the crash (%d SMS)", sms.count())
	}
	r = crash(t, r)
	r.step(t, time.Hour) // the warning's street step, an hour after it began
	r.wantSMS(t, "op1/sms,street/sms")
}

// TestCrashBetweenEscalationSteps: a step decided but not delivered comes
// back after a crash; a step delivered is not sent again.
func TestCrashBetweenEscalationSteps(t *testing.T) {
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(t.TempDir()), clock, sms, dt)
	r.handle(t, co2(StateFiring))
	r.step(t, 0)
	// At the street step, the escalator advances and queues the notice,
	// and the process dies before it is sent.
	clock.advance(10 * time.Minute)
	r.d.mu.Lock()
	if err := r.d.commit(&outboxRecord{}, r.d.esc.Tick(clock.Now()), clock.Now()); err != nil {
		t.Fatal(err)
	}
	r.d.mu.Unlock()
	r = crash(t, r)
	r.step(t, 0)
	r = crash(t, r)
	r.step(t, 0)
	r.wantSMS(t, "op1/sms,street/sms")
	res := co2(StateResolved)
	res.At = clock.Now()
	r.handle(t, res)
	r.step(t, 0)
	r.wantSMS(t, "op1/sms,street/sms,op1/sms,street/sms")
}

// TestCrashAfterProviderAnswered: the provider accepted the SMS and the
// process died before the notification log recorded it. A provider that
// cannot say what it took (no Confirmer) gets the SMS again after the
// restart, once: the duplicate only such a provider can cause.
func TestCrashAfterProviderAnswered(t *testing.T) {
	dir := t.TempDir()
	snap := filepath.Join(t.TempDir(), "notify")
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	cfg := testConfig(dir)
	r := newRig(t, cfg, clock, sms, dt)
	// The disk as it is while the provider answers: copied then.
	r.notifier[ChannelSMS] = NotifierFunc(func(ctx context.Context, m Message) (bool, error) {
		if err := os.CopyFS(snap, os.DirFS(dir)); err != nil {
			t.Error(err)
		}
		return sms.Notify(ctx, m)
	})
	r.d.notifiers = r.notifier
	r.handle(t, co2(StateFiring))
	r.step(t, 0)
	if sms.count() != 1 {
		t.Fatalf("sent %d", sms.count())
	}
	cfg.StateDir = snap
	r2 := newRig(t, cfg, clock, sms, dt)
	r2.step(t, 0)
	r2.step(t, time.Minute)
	r.wantSMS(t, "op1/sms,op1/sms")
	if sms.sent[0].Params[ParamCode] != sms.sent[1].Params[ParamCode] {
		t.Fatal("the repeated SMS carries another code")
	}
	r2 = crash(t, r2)
	r2.step(t, time.Minute)
	if sms.count() != 2 {
		t.Fatalf("a second duplicate: %d SMS", sms.count())
	}
}

// TestNeverResolvedWithoutFiring: a resolution reaches only who was told of
// the alert; a firing notice that failed everywhere means no resolution.
func TestNeverResolvedWithoutFiring(t *testing.T) {
	clock := &fakeClock{now: t0}
	fail := &ProviderError{Kind: Permanent, Code: "down"}
	sms, dt := &recorder{script: []error{fail}}, &recorder{script: []error{fail}}
	r := newRig(t, testConfig(t.TempDir()), clock, sms, dt)
	r.handle(t, co2w(StateFiring))
	r.step(t, 30*time.Second)
	if got := testutil.ToFloat64(r.d.metrics.deadLetters); got != 1 {
		t.Fatalf("dead letters %v", got)
	}
	res := co2w(StateResolved)
	r.handle(t, res)
	r.step(t, time.Minute)
	if sms.count()+dt.count() != 0 {
		t.Fatalf("resolution sent for an alert never announced: %v %v", recipients(sms.sent), recipients(dt.sent))
	}
	if got := testutil.ToFloat64(r.d.metrics.notifications.WithLabelValues("none", resultUnannounced)); got != 1 {
		t.Fatalf("unannounced %v", got)
	}
}

// TestCriticalNeverSilencedByBudget: the operator's SMS budget is spent by
// routine warnings; a critical alert still goes out by SMS (our budget does
// not apply), and when the provider refuses it, by voice call, and the
// street office is told at once.
func TestCriticalNeverSilencedByBudget(t *testing.T) {
	clock := &fakeClock{now: t0}
	cfg := testConfig(t.TempDir())
	cfg.Budget = BudgetConfig{PerDay: 5, PerWindow: 1}
	cfg.Directory.Operators["fac-1"] = []Contact{{ID: "op1", Phone: "13812341234"}} // a phone, nothing else
	sms, dt, voice := &recorder{}, &recorder{}, &recorder{}
	r := newRig(t, cfg, clock, sms, dt)
	r.notifier[ChannelVoice] = voice
	r.d.notifiers = r.notifier
	for i := range 6 { // five routine warnings spend the budget; the sixth is a dead letter (no fallback)
		a := co2w(StateFiring)
		a.Fingerprint, a.StartsAt = "fp-w"+string(rune('0'+i)), clock.Now()
		r.handle(t, a)
		r.step(t, time.Minute)
	}
	if sms.count() != 5 || voice.count() != 0 {
		t.Fatalf("warnings: %d SMS, %d calls", sms.count(), voice.count())
	}
	// The provider now refuses the number, too.
	sms.script = []error{&ProviderError{Channel: ChannelSMS, Kind: Budget, Code: "isv.BUSINESS_LIMIT_CONTROL"}}
	smoke := co2(StateFiring)
	smoke.Fingerprint, smoke.Rule, smoke.What, smoke.Value, smoke.Limit = "fp-smoke", "smoke_alarm", "检测到烟雾", "", ""
	smoke.StartsAt = clock.Now()
	r.handle(t, smoke)
	r.step(t, 0)
	if voice.count() != 1 || voice.sent[0].To.ID != "op1" || voice.sent[0].Kind != KindFiring {
		t.Fatalf("the operator was not called: %v", recipients(voice.sent))
	}
	if got := recipients(sms.sent); got[len(got)-1] != "street/sms" {
		t.Fatalf("the street office was not told at once: %v", got)
	}
	if got := testutil.ToFloat64(r.d.metrics.expedited); got != 1 {
		t.Fatalf("expedited %v", got)
	}
	if got := testutil.ToFloat64(r.d.metrics.fallbacks.WithLabelValues("voice")); got != 1 {
		t.Fatalf("voice fallbacks %v", got)
	}
	// The street step coming due later is not sent a second time.
	r.step(t, 11*time.Minute)
	street := 0
	for _, m := range sms.sent {
		if m.To.ID == "street" && m.Kind == KindEscalation {
			street++
		}
	}
	if street != 1 {
		t.Fatalf("street told %d times", street)
	}
}

// TestVoiceAlways: with voice: always, a critical alert calls beside the SMS.
func TestVoiceAlways(t *testing.T) {
	clock := &fakeClock{now: t0}
	cfg := testConfig(t.TempDir())
	cfg.Voice = VoiceAlways
	sms, dt, voice := &recorder{}, &recorder{}, &recorder{}
	r := newRig(t, cfg, clock, sms, dt)
	r.notifier[ChannelVoice] = voice
	r.d.notifiers = r.notifier
	r.handle(t, co2(StateFiring))
	r.step(t, 0)
	if sms.count() != 1 || voice.count() != 1 || dt.count() != 1 {
		t.Fatalf("sms %d voice %d dingtalk %d", sms.count(), voice.count(), dt.count())
	}
	// A warning never calls.
	w := co2w(StateFiring)
	w.Fingerprint = "fp-w"
	r.handle(t, w)
	r.step(t, time.Minute)
	if voice.count() != 1 {
		t.Fatalf("a warning called: %d", voice.count())
	}
}

// TestRetryDoesNotHoldCritical: a warning whose SMS is being retried does
// not hold back a critical alert.
func TestRetryDoesNotHoldCritical(t *testing.T) {
	clock := &fakeClock{now: t0}
	cfg := testConfig(t.TempDir())
	cfg.Directory.Operators["fac-1"] = []Contact{{ID: "op1", Phone: "13812341234"}}
	cfg.Retry = RetryConfig{MaxAttempts: 4, InitialBackoff: time.Minute, MaxBackoff: time.Hour}
	sms, dt := &recorder{script: []error{&ProviderError{Kind: Transient, Status: 503}}}, &recorder{}
	r := newRig(t, cfg, clock, sms, dt)
	w := co2w(StateFiring)
	w.Fingerprint = "fp-w"
	r.handle(t, w)
	r.step(t, 30*time.Second) // the warning fails, its retry is in 30-60 s
	r.handle(t, co2(StateFiring))
	r.step(t, 0)
	if sms.count() != 1 || sms.sent[0].Alerts[0].Fingerprint != "fp-co2" {
		t.Fatalf("the critical alert waited: %d SMS", sms.count())
	}
	r.step(t, time.Minute)
	if sms.count() != 2 {
		t.Fatalf("the warning's retry: %d SMS", sms.count())
	}
}

// TestOutboxWriteFailure: Handle reports a failed outbox write (the caller
// must not mark the transition notified); the notice is still sent, and
// the change is written with the next one.
func TestOutboxWriteFailure(t *testing.T) {
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(t.TempDir()), clock, sms, dt)
	r.d.out.log.Close() // every write now fails
	err := r.d.Handle(context.Background(), co2(StateFiring))
	if err == nil {
		t.Fatal("Handle succeeded without writing the outbox")
	}
	if errors.Is(err, ErrInvalidAlert) {
		t.Fatalf("a disk failure reported as an invalid alert: %v", err)
	}
	r.step(t, 0)
	if sms.count() != 1 {
		t.Fatalf("notice lost with the failed write: %d SMS", sms.count())
	}
	if r.d.stash == nil {
		t.Fatal("the unwritten change was not kept for the next write")
	}
}

// TestOutboxCompaction: the outbox is compacted at start and when it
// grows; what it held survives.
func TestOutboxCompaction(t *testing.T) {
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	cfg := testConfig(t.TempDir())
	r := newRig(t, cfg, clock, sms, dt)
	w := co2w(StateFiring)
	r.handle(t, w)
	r.d.mu.Lock()
	if err := r.d.out.compact(r.d.esc.all(), r.d.esc.closedEpisodes()); err != nil {
		t.Fatal(err)
	}
	r.d.mu.Unlock()
	r = crash(t, r)
	if r.d.Pending() != 1 {
		t.Fatalf("pending %d after compaction and restart", r.d.Pending())
	}
	if _, ok := r.d.esc.Open(w.Fingerprint); !ok {
		t.Fatal("escalation lost in compaction")
	}
	if fi, err := os.Stat(filepath.Join(cfg.StateDir, OutboxFile)); err != nil || fi.Size() > 64 {
		t.Fatalf("outbox not emptied at start: %v %v", fi, err)
	}
}

// TestCriticalCallsWhileSMSIsRetried: an SMS provider outage (a transient
// failure) calls the operator at once, while the SMS is retried; the
// street office is brought in only when the SMS finally fails.
func TestCriticalCallsWhileSMSIsRetried(t *testing.T) {
	clock := &fakeClock{now: t0}
	cfg := testConfig(t.TempDir())
	sms, dt, voice := &recorder{script: []error{&ProviderError{Kind: Transient, Status: 503}}}, &recorder{}, &recorder{}
	r := newRig(t, cfg, clock, sms, dt)
	r.notifier[ChannelVoice] = voice
	r.d.notifiers = r.notifier
	r.handle(t, co2(StateFiring))
	r.step(t, 0)
	if voice.count() != 1 || sms.count() != 0 {
		t.Fatalf("during the outage: %d calls, %d SMS", voice.count(), sms.count())
	}
	r.step(t, time.Minute) // the SMS retry goes through
	if sms.count() != 1 || voice.count() != 1 {
		t.Fatalf("after the retry: %d SMS, %d calls", sms.count(), voice.count())
	}
	if got := testutil.ToFloat64(r.d.metrics.expedited); got != 0 {
		t.Fatalf("expedited %v for an SMS that went through", got)
	}
	r.wantSMS(t, "op1/sms")
}

// TestExpediteSkipsStreetAlreadyTold: a gateway-offline alert in opening
// hours told the street office with the first notice; the operator's SMS
// failing does not tell it a second time.
func TestExpediteSkipsStreetAlreadyTold(t *testing.T) {
	clock := &fakeClock{now: t0}
	cfg := testConfig(t.TempDir())
	sms, dt := &recorder{script: []error{&ProviderError{Kind: Budget, Code: "isv.BUSINESS_LIMIT_CONTROL"}}}, &recorder{}
	r := newRig(t, cfg, clock, sms, dt)
	a := co2(StateFiring)
	a.Regulators = true
	r.handle(t, a)
	r.step(t, 0)
	r.wantSMS(t, "street/sms")
	if got := testutil.ToFloat64(r.d.metrics.expedited); got != 0 {
		t.Fatalf("expedited %v", got)
	}
}

// TestTransitionsHandedOverAgain: after a restart the state store hands
// over transitions whose receipts were lost, a firing and its resolution
// included. The closed episode is recognised: nothing escalates anew, and
// an older episode never replaces a newer one.
func TestTransitionsHandedOverAgain(t *testing.T) {
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(t.TempDir()), clock, sms, dt)
	r.handle(t, co2(StateFiring))
	r.step(t, 0)
	clock.advance(time.Minute)
	res := co2(StateResolved)
	res.At = clock.Now()
	r.handle(t, res)
	r.step(t, 0)
	r.wantSMS(t, "op1/sms,op1/sms")
	for range 2 { // in this process, then after a crash
		clock.advance(time.Hour)
		r.handle(t, co2(StateFiring))
		r.step(t, 0) // the sender may run between the two
		r.handle(t, res)
		r.step(t, 0)
		r.step(t, time.Hour)
		r.wantSMS(t, "op1/sms,op1/sms")
		r = crash(t, r)
	}
	// A newer episode is open; the older one's firing handed over again
	// does not replace it.
	next := co2(StateFiring)
	next.StartsAt, next.At = clock.Now(), clock.Now()
	r.handle(t, next)
	r.step(t, 0)
	r.handle(t, co2(StateFiring))
	if a, ok := r.d.esc.Open(next.Fingerprint); !ok || !a.StartsAt.Equal(next.StartsAt) {
		t.Fatalf("open episode %v, want the newer one", a.StartsAt)
	}
}
