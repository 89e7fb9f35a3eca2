package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// TestGatewayRepairsTornSpoolTail kills the gateway, damages the end of its
// newest spool segment as a crash mid-write or a file system losing data
// would, and starts it again: it must start, say it truncated the tail, and
// deliver every reading but those of the torn Append. (Recovery keeps whole
// Appends: in a real crash the torn Append was never reported durable, so
// the local broker still has its messages; here the damage comes after the
// acknowledgement, so its readings are lost, and only they.)
func TestGatewayRepairsTornSpoolTail(t *testing.T) {
	broker := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	const before, after = 500, 100 // readings before the kill, after the restart

	cases := []struct {
		name string
		// damage changes the segment holding the newest record of recs
		// and returns how many bytes the repair must cut and the records
		// it must drop with them.
		damage func(t *testing.T, recs []spoolRecord) (cut int64, lost []spoolRecord)
	}{
		{"record cut in half", func(t *testing.T, recs []spoolRecord) (int64, []spoolRecord) {
			last := recs[len(recs)-1]
			keep := last.off + spoolFrameHeader + int64(len(last.data))/2
			if err := os.Truncate(last.path, keep); err != nil {
				t.Fatal(err)
			}
			// Back to the end of the Append before the torn one, in
			// the same segment (a segment ends with a whole Append).
			from := len(recs) - 1
			for from > 0 && !recs[from-1].end && recs[from-1].path == last.path {
				from--
			}
			if from == 0 || recs[from-1].path != last.path {
				t.Fatalf("the torn Append starts its segment; the test wants one before it")
			}
			prev := recs[from-1]
			return keep - (prev.off + spoolFrameHeader + int64(len(prev.data))), recs[from:]
		}},
		{"garbage appended", func(t *testing.T, recs []spoolRecord) (int64, []spoolRecord) {
			return appendTo(t, recs[len(recs)-1].path, bytes.Repeat([]byte{0xA5, 0x5A, 0x13}, 100)), nil
		}},
		{"zeros appended", func(t *testing.T, recs []spoolRecord) (int64, []spoolRecord) {
			// What ext4 may show after a crash extended the file but lost
			// the data blocks.
			return appendTo(t, recs[len(recs)-1].path, make([]byte, 4096)), nil
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			facility, gw := fmt.Sprintf("110105001-%04d", 10+i), fmt.Sprintf("gw-torn-%d", i)
			fac := writeFile(t, dir, "facility.yaml", facilityYAML(facility, "110105001", gw, 10))
			spoolDir := filepath.Join(dir, "spool")
			// The uplink has no collector until the end: everything stays
			// in the spool.
			conf := writeFile(t, dir, "gateway.yaml", gatewayConf{id: gw, facilityFile: fac, local: broker.Addr(),
				uplink: broker.Addr(), spoolDir: spoolDir}.yaml())
			g := startGatewayProcess(t, conf)
			s := newFastSensor(t, broker.Addr(), "sensor-"+gw)
			base := time.Now().Add(-5 * time.Minute).UnixMilli()
			warm := 0
			if !poll(60*time.Second, func() bool {
				s.temperature(0, base-1000+int64(warm), 20)
				s.flush()
				warm++
				return inspectSpool(t, spoolDir, 0).readings > 0
			}) {
				t.Fatalf("no reading reached the spool within a minute; gateway output:\n%s", g.output())
			}
			for k := 0; k < before; k++ {
				s.temperature(k%10, base+int64(k), 21)
			}
			s.flush()
			if !poll(30*time.Second, func() bool { return inspectSpool(t, spoolDir, base).readings == before }) {
				t.Fatalf("spool holds %d of %d readings", inspectSpool(t, spoolDir, base).readings, before)
			}
			g.kill()

			recs, err := readSpool(spoolDir)
			if err != nil || len(recs) == 0 {
				t.Fatalf("spool after the kill: %d records, %v", len(recs), err)
			}
			last := recs[len(recs)-1]
			var torn model.Reading
			if err := model.DecodeReadingEntry(last.data, &torn); err != nil {
				t.Fatalf("newest spool record: %v", err)
			}
			cut, dropped := tc.damage(t, recs)
			lost, gone := false, int64(0) // the newest reading is dropped; readings dropped
			for _, r := range dropped {
				var rd model.Reading
				if model.DecodeReadingEntry(r.data, &rd) == nil && rd.Time.UnixMilli() >= base {
					gone++
				}
				lost = lost || r.off == last.off
			}

			g.start()
			var repaired []string
			re := regexp.MustCompile(`repaired torn spool tail.*truncated_bytes=(\d+)`)
			if !poll(30*time.Second, func() bool { repaired = re.FindStringSubmatch(g.output()); return repaired != nil }) {
				t.Fatalf("restarted gateway did not report a tail repair; output:\n%s", g.output())
			}
			if n, _ := strconv.ParseInt(repaired[1], 10, 64); n != cut {
				t.Errorf("repair truncated %d bytes, the damage was %d", n, cut)
			}
			for k := before; k < before+after; k++ {
				s.temperature(k%10, base+int64(k), 22)
			}
			s.flush()
			startCollector(t, broker.Addr(), inf, "collector-"+gw, registryOf(t, fac))

			want := int64(before+after) - gone
			q := fmt.Sprintf(`SELECT count(value) FROM temperature WHERE facility = '%s' AND time >= %dms`, facility, base)
			if n := waitCount(t, inf, q, want, 60*time.Second); n != want {
				t.Fatalf("InfluxDB has %d readings, want %d; gateway output:\n%s", n, want, g.output())
			}
			q = fmt.Sprintf(`SELECT count(value) FROM temperature WHERE facility = '%s' AND time = %dms`, facility, torn.Time.UnixMilli())
			if n, err := inf.Count(t.Context(), db, q); err != nil || (n == 0) != lost {
				t.Errorf("the newest reading before the kill: %d in InfluxDB (%v), lost %v", n, err, lost)
			}
		})
	}
}

// appendTo appends b to the file at path and returns len(b).
func appendTo(t *testing.T, path string, b []byte) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return int64(len(b))
}
