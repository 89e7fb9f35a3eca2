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
// deliver every reading but the torn one.
func TestGatewayRepairsTornSpoolTail(t *testing.T) {
	broker := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	const before, after = 500, 100 // readings before the kill, after the restart

	cases := []struct {
		name string
		// damage changes the segment holding last, the newest record, and
		// returns how many bytes the repair must cut and whether last is lost.
		damage func(t *testing.T, last spoolRecord) (cut int64, lost bool)
	}{
		{"record cut in half", func(t *testing.T, last spoolRecord) (int64, bool) {
			keep := last.off + spoolFrameHeader + int64(len(last.data))/2
			if err := os.Truncate(last.path, keep); err != nil {
				t.Fatal(err)
			}
			return keep - last.off, true
		}},
		{"garbage appended", func(t *testing.T, last spoolRecord) (int64, bool) {
			return appendTo(t, last.path, bytes.Repeat([]byte{0xA5, 0x5A, 0x13}, 100)), false
		}},
		{"zeros appended", func(t *testing.T, last spoolRecord) (int64, bool) {
			// What ext4 may show after a crash extended the file but lost
			// the data blocks.
			return appendTo(t, last.path, make([]byte, 4096)), false
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
			cut, lost := tc.damage(t, last)

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

			want := int64(before + after)
			if lost {
				want--
			}
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
