package state_test

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/alerting/state"
	"github.com/cradlewatch/cradlewatch/internal/recordlog"
	"github.com/cradlewatch/cradlewatch/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newEngine(t *testing.T, c *clock) *rules.Engine {
	t.Helper()
	rs, err := rules.LoadFile(filepath.Join("..", "..", "configs", "rules.yaml"), filepath.Join("..", "..", "configs", "calendar"))
	if err != nil {
		t.Fatal(err)
	}
	e := rules.New(rules.Options{Rules: rs, Clock: c.now})
	err = e.AddFacility(rules.Facility{Facility: model.Facility{ID: "F1", Region: "110105001",
		Rooms:   []model.Room{{ID: "r1", Type: model.RoomToddler}},
		Devices: []model.Device{{ID: "co2-1", Room: "r1", Kinds: []model.Kind{model.KindCO2}, Interval: time.Minute}}}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// feed sends one CO2 reading per minute and records every transition.
func feed(t *testing.T, e *rules.Engine, s *state.Store, c *clock, from time.Time, vals ...float64) []rules.Transition {
	t.Helper()
	var out []rules.Transition
	for i, v := range vals {
		c.t = from.Add(time.Duration(i) * time.Minute)
		trs := e.Observe("F1", model.Reading{Device: "co2-1", Room: "r1", Kind: model.KindCO2, Time: c.t, Value: v})
		for _, tr := range trs {
			if tr.Alert.Rule != "co2_early" {
				continue
			}
			if err := s.Append(tr); err != nil {
				t.Fatal(err)
			}
			out = append(out, tr)
		}
	}
	return out
}

func TestRestartPending(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 5, 12, 9, 0, 0, 0, shanghai)
	c := &clock{start}
	s, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, c)
	trs := feed(t, e, s, c, start, 1600, 1600, 1600, 1600, 1600) // pending for 4 min of 10
	if len(trs) != 1 || trs[0].To != rules.Pending {
		t.Fatalf("%+v", trs)
	}
	s.Close()

	s, err = state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e = newEngine(t, c)
	if n := e.Restore(s.Alerts()); n != 1 {
		t.Fatalf("restored %d", n)
	}
	// Minutes 5..10: `for` counts from minute 0, before the restart.
	trs = feed(t, e, s, c, start.Add(5*time.Minute), 1600, 1600, 1600, 1600, 1600, 1600)
	if len(trs) != 1 || trs[0].To != rules.Firing || !trs[0].At.Equal(start.Add(10*time.Minute)) || !trs[0].Alert.Since.Equal(start) {
		t.Fatalf("%+v", trs)
	}
}

func TestRestartFiring(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 5, 12, 9, 0, 0, 0, shanghai)
	c := &clock{start}
	// The process dies before the notifier accepted the SMS.
	trs := recordFiring(t, dir, c)
	fired := trs[len(trs)-1]
	if fired.To != rules.Firing || !fired.Notify {
		t.Fatalf("%+v", trs)
	}

	s, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	unsent := s.Unsent()
	if len(unsent) != 1 || unsent[0].Alert.Fingerprint != fired.Alert.Fingerprint {
		t.Fatalf("unsent %+v", unsent)
	}
	if err := s.MarkNotified(unsent[0]); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Second restart: nothing to re-send, and the engine does not fire again.
	s, err = state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if u := s.Unsent(); len(u) != 0 {
		t.Fatalf("re-sends %+v", u)
	}
	e := newEngine(t, c)
	e.Restore(s.Alerts())
	trs = feed(t, e, s, c, start.Add(11*time.Minute), 1600, 1600, 1200, 1200, 1200, 1200, 1200, 1200)
	if len(trs) != 1 || trs[0].To != rules.Resolved || !trs[0].Notify {
		t.Fatalf("want only the resolution, notified: %+v", trs)
	}
}

func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	recordFiring(t, dir, &clock{time.Date(2026, 5, 12, 9, 0, 0, 0, shanghai)})
	wal := filepath.Join(dir, "wal")
	b, err := os.ReadFile(wal)
	if err != nil {
		t.Fatal(err)
	}
	// Cut the last record in half: a write torn by power loss.
	if err := os.WriteFile(wal, b[:len(b)-10], 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	as := s.Alerts()
	if len(as) != 1 || as[0].State != rules.Pending {
		t.Fatalf("want the pending alert of the first record: %+v", as)
	}
}

// TestCorruptRecordMidWAL: a damaged record in the middle of the wal is
// quarantined and the records after it are kept. (Before the record log,
// the wal was truncated at the first bad record and the firing alert after
// it was forgotten.)
func TestCorruptRecordMidWAL(t *testing.T) {
	dir := t.TempDir()
	trs := recordFiring(t, dir, &clock{time.Date(2026, 5, 12, 9, 0, 0, 0, shanghai)})
	if len(trs) != 2 || trs[0].To != rules.Pending || trs[1].To != rules.Firing {
		t.Fatalf("%+v", trs)
	}
	wal := filepath.Join(dir, "wal")
	b, err := os.ReadFile(wal)
	if err != nil {
		t.Fatal(err)
	}
	b[len(recordlog.Header)+recordlog.FrameLen+5] ^= 0x20 // inside the first record's data
	if err := os.WriteFile(wal, b, 0o640); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s, err := state.Open(state.Options{Dir: dir, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	as := s.Alerts()
	if len(as) != 1 || as[0].State != rules.Firing {
		t.Fatalf("want the firing alert of the record after the damage: %+v", as)
	}
	if u := s.Unsent(); len(u) != 1 || u[0].To != rules.Firing {
		t.Fatalf("unsent %+v", u)
	}
	if n := counterValue(t, reg, "cw_recordlog_corrupt_regions_total"); n != 1 {
		t.Fatalf("corrupt regions counted %v", n)
	}
	q, err := recordlog.ReadQuarantine(wal)
	if err != nil || len(q) != 1 || q[0].Offset != int64(len(recordlog.Header)) {
		t.Fatalf("quarantine %+v %v", q, err)
	}
}

// TestLegacyWAL: a wal written before the record log is read and converted.
func TestLegacyWAL(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 5, 12, 9, 0, 0, 0, shanghai)
	tr := rules.Transition{Alert: rules.Alert{Fingerprint: "fp1", Rule: "co2_early", Facility: "F1", State: rules.Firing, Since: start},
		From: rules.Pending, To: rules.Firing, At: start, Notify: true}
	var wal []byte
	for _, rec := range []any{map[string]any{"transition": tr}} {
		p, _ := json.Marshal(rec)
		var hdr [8]byte
		binary.LittleEndian.PutUint32(hdr[:4], uint32(len(p)))
		binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli)))
		wal = append(append(wal, hdr[:]...), p...)
	}
	if err := os.WriteFile(filepath.Join(dir, "wal"), wal, 0o640); err != nil {
		t.Fatal(err)
	}
	for range 2 { // converted once, then read in the new format
		s, err := state.Open(state.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if as, u := s.Alerts(), s.Unsent(); len(as) != 1 || as[0].Fingerprint != "fp1" || len(u) != 1 {
			t.Fatalf("alerts %+v unsent %+v", as, u)
		}
		s.Close()
	}
	if q, _ := recordlog.ReadQuarantine(filepath.Join(dir, "wal")); len(q) != 0 {
		t.Fatalf("legacy wal taken for damage: %+v", q)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// recordFiring feeds 11 minutes of high CO2 from c's time (co2_early:
// pending, then firing after 10 minutes) into a store in dir, closes it
// and returns the transitions.
func recordFiring(t *testing.T, dir string, c *clock) []rules.Transition {
	t.Helper()
	s, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return feed(t, newEngine(t, c), s, c, c.t, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600)
}
