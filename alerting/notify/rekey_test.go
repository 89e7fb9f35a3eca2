package notify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRekeyLegacyState: state written by an earlier release, with the
// unsalted hash of each number, is re-keyed at start: the reply of the
// number that was sent the code still acknowledges (its budget and the
// binding of the code carried over), the old hash of a number nobody knows
// any more is dropped, and no old hash is left on disk.
func TestRekeyLegacyState(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(dir), clock, sms, dt)
	r.handle(t, co2(StateFiring))
	r.step(t, 30*time.Second)
	code := sms.sent[0].Params[ParamCode]
	r.d.Close()

	// Turn the log into what the earlier release wrote.
	const op1, gone = "13812341234", "13600009999"
	path := filepath.Join(dir, LogFile)
	es, err := ReadLog(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	for _, e := range es {
		if e.PhoneKey == testPhones.Key(op1) {
			e.PhoneKey = legacyPhoneKey(op1)
		}
		b, _ := json.Marshal([]LogEntry{e})
		recs = append(recs, b)
	}
	b, _ := json.Marshal([]LogEntry{{At: t0, Outcome: OutcomeSent, Key: "old|firing|operator|0|phone:" + legacyPhoneKey(gone),
		Episode: "old", Kind: KindFiring, Recipient: "phone:" + legacyPhoneKey(gone), Channel: ChannelSMS, PhoneKey: legacyPhoneKey(gone)}})
	recs = append(recs, b)
	l, err := openNflog(path, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.l.Rewrite(recs); err != nil {
		t.Fatal(err)
	}
	l.close()
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), legacyPhoneKey(op1)) {
		t.Fatal("the test did not write the old form")
	}

	r = newRig(t, testConfig(dir), clock, sms, dt)
	if _, err := r.d.AckBySMS(code, testPhones.Key(op1), "sms:op1", "sms"); err != nil {
		t.Fatalf("the recipient's reply after the re-key: %v", err)
	}
	r.d.Close()
	raw, _ = os.ReadFile(path)
	for _, old := range []string{legacyPhoneKey(op1), legacyPhoneKey(gone)} {
		if strings.Contains(string(raw), old) {
			t.Errorf("an old hash is still in %s", LogFile)
		}
	}
	es, _ = ReadLog(path)
	var rekeyed, forgotten bool
	for _, e := range es {
		rekeyed = rekeyed || e.PhoneKey == testPhones.Key(op1)
		forgotten = forgotten || (e.Episode == "old" && e.PhoneKey == "" && e.Recipient == forgottenRecipient)
	}
	if !rekeyed || !forgotten {
		t.Fatalf("re-keyed %v, unknown number dropped %v: %+v", rekeyed, forgotten, es)
	}
	// A second start finds nothing to re-key.
	r = newRig(t, testConfig(dir), clock, sms, dt)
	if strings.Contains(r.logs.String(), "re-keyed") {
		t.Fatalf("re-keyed twice: %s", r.logs.String())
	}
}

func TestLegacyKeyShape(t *testing.T) {
	k := legacyPhoneKey("+8613812341234")
	if !isLegacyKey(k) || k != legacyPhoneKey("13812341234") || isLegacyKey(testPhones.Key("13812341234")) || isLegacyKey("op1") {
		t.Fatalf("legacy key %q", k)
	}
}
