package notify

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSilences: a silence added at run time is saved, survives a restart
// and mutes its facility; ended early, it mutes no more and keeps its real
// end; a configured one cannot be ended at run time; a silence must say
// who and why.
func TestSilences(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	cfg := testConfig(dir)
	cfg.Silences = []Silence{{ID: "cfg", Facility: "fac-2", Start: t0.Add(-time.Hour), End: t0.Add(24 * time.Hour), CreatedBy: "王工", Reason: "装修"}}
	r := newRig(t, cfg, clock, sms, dt)

	for name, bad := range map[string]Silence{
		"who is required":  {Facility: "fac-1", Start: t0, End: t0.Add(time.Hour), Reason: "检修"},
		"why is required":  {Facility: "fac-1", Start: t0, End: t0.Add(time.Hour), CreatedBy: "person:li"},
		"end before start": {Facility: "fac-1", Start: t0, End: t0.Add(-time.Hour), CreatedBy: "person:li", Reason: "检修"},
		"no facility":      {Start: t0, End: t0.Add(time.Hour), CreatedBy: "person:li", Reason: "检修"},
	} {
		if _, err := r.d.AddSilence(bad); !IsInvalidSilence(err) {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}
	s, err := r.d.AddSilence(Silence{Facility: "fac-1", Start: t0, End: t0.Add(4 * time.Hour), CreatedBy: "person:li (李工)", Reason: "新风系统检修"})
	if err != nil || s.ID == "" || !s.CreatedAt.Equal(t0) || s.Configured {
		t.Fatalf("add: %+v %v", s, err)
	}
	if _, err := r.d.AddSilence(Silence{ID: s.ID, Facility: "fac-1", Start: t0, End: t0.Add(time.Hour), CreatedBy: "x", Reason: "y"}); !IsInvalidSilence(err) {
		t.Fatalf("an id used twice: %v", err)
	}

	// A restart keeps it, and the configured one stays configured.
	r.d.Close()
	r = newRig(t, cfg, clock, sms, dt)
	all := r.d.Silences()
	if len(all) != 2 || all[0].ID != "cfg" || !all[0].Configured || all[1].ID != s.ID || all[1].Reason != "新风系统检修" || all[1].Configured {
		t.Fatalf("after restart: %+v", all)
	}
	r.handle(t, co2(StateFiring))
	r.step(t, time.Minute)
	if sms.count()+dt.count() != 0 {
		t.Fatalf("silenced facility notified: %v", recipients(sms.sent))
	}

	// Configured silences are ended in the configuration file.
	if _, err := r.d.EndSilence("fac-2", "cfg", "person:li", clock.Now()); !errors.Is(err, ErrSilenceConfigured) {
		t.Fatalf("ending a configured silence: %v", err)
	}
	for name, tc := range map[string][2]string{"unknown id": {"fac-1", "nope"}, "another facility's": {"fac-9", s.ID}} {
		if _, err := r.d.EndSilence(tc[0], tc[1], "person:li", clock.Now()); !errors.Is(err, ErrNoSilence) {
			t.Errorf("%s: %v", name, err)
		}
	}
	end := clock.Now()
	got, err := r.d.EndSilence("fac-1", s.ID, "person:zhang", end)
	if err != nil || !got.EndedAt.Equal(end) || got.EndedBy != "person:zhang" || !got.Effective().Equal(end) || !got.End.Equal(s.End) {
		t.Fatalf("end: %+v %v", got, err)
	}
	if _, err := r.d.EndSilence("fac-1", s.ID, "person:zhang", end); !errors.Is(err, ErrNoSilence) {
		t.Fatalf("ending it twice: %v", err)
	}

	// Ended, it mutes no more: a new alert of the facility goes out. The
	// end survives a restart.
	r.d.Close()
	r = newRig(t, cfg, clock, sms, dt)
	if all := r.d.Silences(); !all[1].EndedAt.Equal(end) {
		t.Fatalf("the end was not saved: %+v", all[1])
	}
	a := co2(StateFiring)
	a.Fingerprint, a.StartsAt, a.At = "fp-after", clock.Now(), clock.Now()
	r.handle(t, a)
	r.step(t, time.Minute)
	if got := strings.Join(recipients(sms.sent), ","); !strings.Contains(got, "op1/sms") {
		t.Fatalf("after the silence ended: %q", got)
	}
	b, err := os.ReadFile(filepath.Join(dir, SilenceFile))
	if err != nil || strings.Contains(string(b), "装修") {
		t.Fatalf("%s holds the configured silence or is missing: %s %v", SilenceFile, b, err)
	}
}
