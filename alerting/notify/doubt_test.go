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

// confirming is the SMS recorder with a provider that can say what it
// took: the messages it recorded, by key and number.
type confirming struct {
	*recorder
	err   error // Confirm's answer when set: the provider cannot be asked
	asked int
}

func (c *confirming) Confirm(_ context.Context, m Message, since time.Time) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked++
	if c.err != nil {
		return false, c.err
	}
	for _, s := range c.sent {
		if s.Key == m.Key && s.To.Phone == m.To.Phone {
			return true, nil
		}
	}
	return false, nil
}

// confirmingFunc is f as the notifier of c's provider.
func confirmingFunc(f NotifierFunc, c *confirming) Notifier {
	return &struct {
		NotifierFunc
		*confirming
	}{f, c}
}

// crashRig is a rig whose SMS provider copies the state directory as it
// is when the provider takes a message (the disk a SIGKILL at that instant
// leaves) to snap, then takes it, or, with took false, never gets it (its
// answer times out). A rig started on snap (cfg.StateDir = snap) is the
// instance after that crash.
type crashRig struct {
	*rig
	sms  *recorder
	conf *confirming
	cfg  Config
	snap string
}

func newCrashRig(t *testing.T, clock *fakeClock, took bool) *crashRig {
	dir := t.TempDir()
	c := &crashRig{sms: &recorder{}, cfg: testConfig(dir), snap: filepath.Join(t.TempDir(), "notify")}
	c.conf = &confirming{recorder: c.sms}
	c.rig = newRig(t, c.cfg, clock, c.sms, &recorder{}).withSMS(confirmingFunc(func(ctx context.Context, m Message) (bool, error) {
		if err := os.CopyFS(c.snap, os.DirFS(dir)); err != nil {
			t.Error(err)
		}
		if !took {
			return true, timeout
		}
		return c.sms.Notify(ctx, m)
	}, c.conf))
	return c
}

// restart starts the instance after the crash, with the provider conf.
func (c *crashRig) restart(t *testing.T) *rig {
	cfg := c.cfg
	cfg.StateDir = c.snap
	return newRig(t, cfg, c.clock, c.sms, &recorder{}).withSMS(c.conf)
}

// withSMS makes n the rig's SMS provider.
func (r *rig) withSMS(n Notifier) *rig {
	r.notifier[ChannelSMS] = n
	r.d.notifiers = r.notifier
	return r
}

// timeout is a transport failure: no answer came.
var timeout = context.DeadlineExceeded

// TestInDoubtAfterCrash: the process dies between handing the operator's
// SMS to the provider and recording the answer (the state directory is
// copied at that instant). After the restart the provider is asked: what
// it took is recorded as sent and not sent again; what it did not take,
// or when it cannot be asked, is sent (a lost alarm is worse than a
// duplicate).
func TestInDoubtAfterCrash(t *testing.T) {
	tests := []struct {
		name      string
		took      bool  // the provider took the SMS before the crash
		askErr    error // asking the provider fails
		wantSMS   int
		wantDoubt string
	}{
		{"provider took it", true, nil, 1, doubtConfirmed},
		{"provider never got it", false, nil, 1, doubtNotTaken},
		{"provider cannot be asked", true, errors.New("QuerySendDetails: ServiceUnavailable"), 2, doubtUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCrashRig(t, &fakeClock{now: t0}, tc.took)
			sms, conf, snap := c.sms, c.conf, c.snap
			c.handle(t, co2(StateFiring))
			c.step(t, 0)

			conf.err = tc.askErr
			r2 := c.restart(t)
			r2.step(t, 0)
			r2.step(t, time.Minute)
			if sms.count() != tc.wantSMS {
				t.Fatalf("%d SMS to the operator, want %d", sms.count(), tc.wantSMS)
			}
			if conf.asked != 1 {
				t.Errorf("the provider was asked %d times, want once", conf.asked)
			}
			for _, res := range []string{doubtConfirmed, doubtNotTaken, doubtUnknown} {
				want := 0.0
				if res == tc.wantDoubt {
					want = 1
				}
				if got := testutil.ToFloat64(r2.d.metrics.inDoubt.WithLabelValues("sms", res)); got != want {
					t.Errorf("in doubt %s: %v, want %v", res, got, want)
				}
			}
			if tc.wantDoubt == doubtConfirmed {
				es, err := ReadLog(filepath.Join(snap, LogFile))
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, e := range es {
					found = found || (e.Outcome == OutcomeSent && e.Channel == ChannelSMS && e.Detail == DetailConfirmed && e.PhoneKey != "")
				}
				if !found {
					t.Errorf("no confirmed SMS delivery with its phone key in the log: %+v", es)
				}
			}
			// Settled: another crash neither asks nor sends.
			conf.asked = 0
			r3 := c.restart(t)
			r3.step(t, time.Minute)
			if sms.count() != tc.wantSMS || conf.asked != 0 {
				t.Fatalf("after a second restart: %d SMS, asked %d times", sms.count(), conf.asked)
			}
		})
	}
}

// TestInDoubtAfterLostAnswer: in one process, the provider takes the SMS
// and its answer is lost (a timeout). The retry asks first and does not
// send it again. A refusal the provider answered is not asked about.
func TestInDoubtAfterLostAnswer(t *testing.T) {
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	conf := &confirming{recorder: sms}
	lost := true
	r := newRig(t, testConfig(t.TempDir()), clock, sms, dt).withSMS(confirmingFunc(func(ctx context.Context, m Message) (bool, error) {
		if _, err := sms.Notify(ctx, m); err != nil || !lost {
			return false, err
		}
		lost = false
		return true, timeout
	}, conf))
	r.handle(t, co2(StateFiring))
	r.step(t, 0)
	r.step(t, time.Minute)
	r.step(t, time.Minute)
	if sms.count() != 1 || conf.asked != 1 {
		t.Fatalf("%d SMS, provider asked %d times; want 1 and once", sms.count(), conf.asked)
	}
	if got := testutil.ToFloat64(r.d.metrics.inDoubt.WithLabelValues("sms", doubtConfirmed)); got != 1 {
		t.Errorf("confirmed %v, want 1", got)
	}

	sms2 := &recorder{script: []error{&ProviderError{Channel: ChannelSMS, Kind: Transient, Code: "ServiceUnavailable", Status: 503}}}
	conf2 := &confirming{recorder: sms2}
	r2 := newRig(t, testConfig(t.TempDir()), clock, sms2, dt).withSMS(conf2)
	r2.handle(t, co2(StateFiring))
	r2.step(t, 0)
	r2.step(t, time.Minute)
	if sms2.count() != 1 || conf2.asked != 0 {
		t.Fatalf("after a refusal: %d SMS, provider asked %d times; want 1 and never", sms2.count(), conf2.asked)
	}
}

// TestInDoubtGroupedMessage: one SMS covers three warnings; the process
// dies as the provider takes it. After the restart the provider is asked
// once (the message's key), all three are recorded as sent, and nothing is
// sent again, also when a fourth warning joins the operator's queue.
func TestInDoubtGroupedMessage(t *testing.T) {
	c := newCrashRig(t, &fakeClock{now: t0}, true)
	sms, conf := c.sms, c.conf
	warn := func(what string) Alert {
		a := co2w(StateFiring)
		a.Fingerprint, a.What = "fp-"+what, what
		return a
	}
	for _, what := range []string{"二氧化碳浓度过高", "温度过高", "甲醛超标"} {
		c.handle(t, warn(what))
	}
	c.step(t, 30*time.Second)
	if sms.count() != 1 || len(sms.sent[0].Alerts) != 3 {
		t.Fatalf("want one SMS for three warnings, got %d", sms.count())
	}

	r2 := c.restart(t)
	r2.step(t, 0)
	if sms.count() != 1 || conf.asked != 1 {
		t.Fatalf("after the restart: %d SMS, provider asked %d times; want 1 and once", sms.count(), conf.asked)
	}
	es, err := ReadLog(filepath.Join(c.snap, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	confirmed := 0
	for _, e := range es {
		if e.Outcome == OutcomeSent && e.Detail == DetailConfirmed {
			confirmed++
		}
	}
	if confirmed != 3 {
		t.Fatalf("%d of the 3 grouped warnings recorded as confirmed", confirmed)
	}
	r2.handle(t, warn("湿度过低"))
	r2.step(t, 30*time.Second)
	if sms.count() != 2 || len(sms.sent[1].Alerts) != 1 || conf.asked != 1 {
		t.Fatalf("the fourth warning: %d SMS (last covering %d alerts), asked %d times", sms.count(), len(sms.sent[len(sms.sent)-1].Alerts), conf.asked)
	}
}
