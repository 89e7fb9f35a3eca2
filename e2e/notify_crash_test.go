package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// notifyRig is one facility watched by the real alerting binary, with
// Mosquitto and the fake provider.
type notifyRig struct {
	t        *testing.T
	prov     *fakeAliyun
	pub      *batchPublisher
	proc     *alertingProcess
	facility string
	op       string // the operator's phone
	gw       string
}

// newNotifyRig starts everything for facility number n, with notify the
// test's own keys of the notify section (each line indented by two spaces).
func newNotifyRig(t *testing.T, n int, notify string) *notifyRig {
	t.Helper()
	broker := testenv.Mosquitto(t)
	dir := t.TempDir()
	r := &notifyRig{t: t, prov: newFakeAliyun(t), pub: newBatchPublisher(t, broker.Addr()),
		facility: fmt.Sprintf("110105001-%04d", n), op: fmt.Sprintf("138000%05d", n), gw: fmt.Sprintf("gw-%04d", n)}
	facDir := filepath.Join(dir, "facilities")
	if err := os.MkdirAll(facDir, 0o750); err != nil {
		t.Fatal(err)
	}
	writeFile(t, facDir, r.facility+".yaml", notifyFacilityYAML(r.facility, r.op))
	rules := writeRulesOverlay(t, dir, notifyRulesOverride(r.facility))
	listen := freeAddr(t)
	conf := writeFile(t, dir, "alerting.yaml", alertingYAML(broker.Addr(), listen, "cw-alerting-"+r.facility, dir, facDir, rules,
		r.prov.endpoint(), accessYAML(t, dir), notify))
	r.proc = startAlertingProcess(t, conf, listen)
	// The service reads batches once its subscription is made: a harmless
	// reading until one has been counted.
	waitUntil(t, 30*time.Second, "first batch seen", func() bool {
		r.reading(model.KindSmoke, "room-1", "smoke-1", 0)
		return r.proc.metric("cw_alerting_messages_total", `outcome="batch"`) >= 1
	})
	return r
}

func (r *notifyRig) reading(k model.Kind, room, device string, v float64) {
	r.pub.reading(r.t, r.facility, r.gw, room, device, k, v)
}

func (r *notifyRig) smoke(v float64) { r.reading(model.KindSmoke, "room-1", "smoke-1", v) }

// settle waits until the service has nothing left to send.
func (r *notifyRig) settle() {
	r.t.Helper()
	waitUntil(r.t, 60*time.Second, "notices delivered", func() bool {
		return r.proc.metric("cw_alerting_notify_pending_notices") == 0
	})
}

// resolve sends the reading that clears the alert, waits for the
// resolution to each phone, and for the service to settle.
func (r *notifyRig) resolve(clear func(), phones ...string) {
	r.t.Helper()
	clear()
	for _, phone := range phones {
		r.prov.waitFor(1, 40*time.Second, sms("T_RESOLVED", phone))
	}
	r.settle()
}

// count is how many times the provider delivered f.
func (r *notifyRig) count(f func(providerCall) bool) int { return len(r.prov.delivered(f)) }

func (r *notifyRig) want(what string, f func(providerCall) bool, n int) {
	r.t.Helper()
	if got := r.count(f); got != n {
		r.t.Errorf("%s: delivered %d times, want %d; provider calls:\n%s", what, got, n, r.prov.dump())
	}
}

// criticalSteps is the escalation of the crash tests: seconds instead of
// minutes, far enough apart for a kill in between.
const criticalSteps = `  policies:
    critical:
      steps:
        - {name: operator, after: 0s, targets: [operator]}
        - {name: street, after: 15s, targets: [street]}
        - {name: county, after: 25s, targets: [county]}
`

// TestNotifySIGKILLRightAfterTheTransition: the smoke alarm is a firing
// alert (the state store has it) while the provider is down, and the
// process is killed. After the restart the operator gets the alarm once,
// then its resolution.
func TestNotifySIGKILLRightAfterTheTransition(t *testing.T) {
	r := newNotifyRig(t, 201, criticalSteps)
	r.prov.SetOutage(true)
	r.smoke(1)
	waitUntil(t, 30*time.Second, "smoke alarm firing", func() bool { return r.proc.firing(r.facility, "smoke_alarm", "room-1", "smoke-1") })
	r.proc.kill()
	if n := r.count(func(providerCall) bool { return true }); n != 0 {
		t.Fatalf("delivered before the kill (%d): the kill did not land after the transition", n)
	}
	r.prov.SetOutage(false)
	r.proc.start()
	if got := r.prov.waitFor(1, 30*time.Second, sms("T_FIRING", r.op)); len(got) == 0 {
		t.Fatalf("the alarm was lost in the crash; calls:\n%s", r.prov.dump())
	}
	r.resolve(func() { r.smoke(0) }, r.op)
	r.want("firing to the operator", sms("T_FIRING", r.op), 1)
	r.want("resolution to the operator", sms("T_RESOLVED", r.op), 1)
	r.prov.checkOrder(t)
}

// TestNotifySIGKILLInsideAGroup: a warning waits its group's window (10 s)
// and the process is killed in it. The notice survives and leaves at the
// group's original deadline, once.
func TestNotifySIGKILLInsideAGroup(t *testing.T) {
	r := newNotifyRig(t, 202, "  group_wait: 10s\n")
	published := time.Now()
	r.reading(model.KindCameraOnline, "room-1", "cam-1", 0)
	waitUntil(t, 30*time.Second, "camera warning firing", func() bool { return r.proc.firing(r.facility, "camera_offline", "room-1", "cam-1") })
	r.proc.kill()
	if n := r.count(func(providerCall) bool { return true }); n != 0 {
		t.Fatalf("delivered before the kill (%d): the kill did not land inside the group", n)
	}
	r.proc.start()
	got := r.prov.waitFor(1, 40*time.Second, sms("T_FIRING", r.op))
	if len(got) == 0 {
		t.Fatalf("the grouped warning was lost in the crash; calls:\n%s", r.prov.dump())
	}
	if got[0].At.Before(published.Add(10 * time.Second)) {
		t.Errorf("sent %s after the reading, before its group's wait of 10 s", got[0].At.Sub(published))
	}
	r.resolve(func() { r.reading(model.KindCameraOnline, "room-1", "cam-1", 1) }, r.op)
	r.want("warning to the operator", sms("T_FIRING", r.op), 1)
	r.want("resolution to the operator", sms("T_RESOLVED", r.op), 1)
	r.prov.checkOrder(t)
}

// TestNotifySIGKILLAfterTheProviderAnswered: the provider takes the SMS
// and the process dies before it learns so (and before its notification
// log records the answer). After the restart the service asks the
// provider (QuerySendDetails by OutId), finds the SMS and does not send it
// again. When the provider cannot be asked, the SMS goes out again: a
// duplicate, counted, rather than an alarm lost.
func TestNotifySIGKILLAfterTheProviderAnswered(t *testing.T) {
	for i, tc := range []struct {
		name     string
		askFails bool
		want     int
		result   string
	}{
		{"the provider is asked", false, 1, "confirmed"},
		{"the provider cannot be asked", true, 2, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newNotifyRig(t, 203+i*10, criticalSteps)
			var killed atomic.Bool
			r.prov.SetBefore(func(c providerCall) {
				if c.Action == "SendSms" && c.Template == "T_FIRING" && c.Phone == r.op && !killed.Swap(true) {
					r.proc.kill()
				}
			})
			r.prov.SetQueryFailing(tc.askFails)
			r.smoke(1)
			waitUntil(t, 30*time.Second, "the kill at the provider's answer", killed.Load)
			r.proc.start()
			waitUntil(t, 30*time.Second, "the delivery in doubt settled", func() bool {
				return r.proc.metric("cw_alerting_notify_in_doubt_total", `result="`+tc.result+`"`) == 1
			})
			if tc.askFails {
				if got := r.prov.waitFor(2, 30*time.Second, sms("T_FIRING", r.op)); len(got) != 2 || got[0].Params["code"] != got[1].Params["code"] {
					t.Fatalf("want the SMS and its one duplicate with the same code; calls:\n%s", r.prov.dump())
				}
			}
			r.resolve(func() { r.smoke(0) }, r.op)
			r.want("firing to the operator", sms("T_FIRING", r.op), tc.want)
			r.want("resolution to the operator", sms("T_RESOLVED", r.op), 1)
			if r.prov.Queries() == 0 {
				t.Error("the provider was never asked")
			}
			r.prov.checkOrder(t)
		})
	}
}

// TestNotifySIGKILLBetweenEscalationSteps: killed after the operator's SMS
// and before the street step; then killed again as the street office's
// provider answers. The street step comes at its time, once (the second
// kill's delivery is confirmed by the provider, not sent again), the
// county step once, and the resolution reaches all three.
func TestNotifySIGKILLBetweenEscalationSteps(t *testing.T) {
	r := newNotifyRig(t, 204, criticalSteps)
	start := time.Now()
	r.smoke(1)
	if got := r.prov.waitFor(1, 30*time.Second, sms("T_FIRING", r.op)); len(got) == 0 {
		t.Fatalf("no alarm; calls:\n%s", r.prov.dump())
	}
	r.proc.kill()
	if n := r.count(sms("T_ESCALATION", streetPhone)); n != 0 {
		t.Fatalf("the street step came before the kill (%d)", n)
	}
	var killed atomic.Bool
	r.prov.SetBefore(func(c providerCall) {
		if c.Action == "SendSms" && c.Template == "T_ESCALATION" && c.Phone == streetPhone && !killed.Swap(true) {
			r.proc.kill()
		}
	})
	r.proc.start()
	waitUntil(t, 60*time.Second, "the kill at the street step", killed.Load)
	r.proc.start()
	if got := r.prov.waitFor(1, 60*time.Second, sms("T_ESCALATION", countyPhone)); len(got) == 0 {
		t.Fatalf("no county step after the restarts; calls:\n%s", r.prov.dump())
	}
	for phone, after := range map[string]time.Duration{streetPhone: 15 * time.Second, countyPhone: 25 * time.Second} {
		for _, c := range r.prov.delivered(sms("T_ESCALATION", phone)) {
			if c.At.Before(start.Add(after)) {
				t.Errorf("escalation to %s %s after the alarm, before its step at %s", phone, c.At.Sub(start), after)
			}
		}
	}
	r.resolve(func() { r.smoke(0) }, r.op, streetPhone, countyPhone)
	r.want("firing to the operator", sms("T_FIRING", r.op), 1)
	r.want("street step", sms("T_ESCALATION", streetPhone), 1)
	r.want("county step", sms("T_ESCALATION", countyPhone), 1)
	for _, phone := range []string{r.op, streetPhone, countyPhone} {
		r.want("resolution to "+phone, sms("T_RESOLVED", phone), 1)
	}
	r.prov.checkOrder(t)
}

// TestCriticalReachesOperatorWhenSMSBudgetSpent: five routine CO2
// warnings spend the operator's SMS allowance at the provider (its limit
// here: 5 a day). A smoke alarm then still reaches the operator, by voice
// call, and the street office at once, not at its step ten minutes later.
// The policies block names only critical: the warnings reaching the
// operator show that the default warning policy was kept.
func TestCriticalReachesOperatorWhenSMSBudgetSpent(t *testing.T) {
	r := newNotifyRig(t, 205, `  group_wait: 0s
  policies:
    critical:
      steps:
        - {name: operator, after: 0s, targets: [operator]}
        - {name: street, after: 10m, targets: [street]}
        - {name: county, after: 30m, targets: [county]}
`)
	r.prov.SetLimit(5)
	for i := 1; i <= 5; i++ {
		r.reading(model.KindCO2, fmt.Sprintf("r%d", i), fmt.Sprintf("co2-%d", i), 1200)
		if got := r.prov.waitFor(i, 30*time.Second, sms("T_FIRING", r.op)); len(got) < i {
			t.Fatalf("warning %d did not reach the operator (default warning policy lost?); calls:\n%s", i, r.prov.dump())
		}
	}
	r.smoke(1)
	if got := r.prov.waitFor(1, 30*time.Second, call("V_FIRING", r.op)); len(got) == 0 {
		t.Fatalf("the smoke alarm did not reach the operator by voice; calls:\n%s", r.prov.dump())
	}
	if got := r.prov.waitFor(1, 30*time.Second, sms("T_ESCALATION", streetPhone)); len(got) == 0 {
		t.Fatalf("the street office was not told at once; calls:\n%s", r.prov.dump())
	}
	if n := r.proc.metric("cw_alerting_escalations_expedited_total"); n != 1 {
		t.Errorf("expedited escalations %v, want 1", n)
	}
	r.settle()
	r.prov.checkOrder(t)
}

// TestGatewayOfflineResolutionReachesStreet: a gateway gone during opening
// hours reaches the operator and the street office with the first notice,
// and its resolution reaches both.
func TestGatewayOfflineResolutionReachesStreet(t *testing.T) {
	r := newNotifyRig(t, 206, "")
	r.pub.status(t, r.facility, r.gw, false)
	for _, phone := range []string{r.op, streetPhone} {
		if got := r.prov.waitFor(1, 30*time.Second, sms("T_FIRING", phone)); len(got) == 0 {
			t.Fatalf("gateway offline did not reach %s at once; calls:\n%s", phone, r.prov.dump())
		}
	}
	r.resolve(func() { r.pub.status(t, r.facility, r.gw, true) }, r.op, streetPhone)
	for _, phone := range []string{r.op, streetPhone} {
		r.want("firing to "+phone, sms("T_FIRING", phone), 1)
		r.want("resolution to "+phone, sms("T_RESOLVED", phone), 1)
	}
	r.want("anything to the county", func(c providerCall) bool { return c.Phone == countyPhone }, 0)
	r.prov.checkOrder(t)
}
