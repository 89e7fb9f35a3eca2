package simulator

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/registry"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output:\n%s", path, got)
	}
}

// TestFirstMinuteGolden pins the wire formats and the determinism of the
// model: the first simulated minute of a facility at 09:00 with seed 1.
func TestFirstMinuteGolden(t *testing.T) {
	render := func() []byte {
		start := mustTime(t, "2026-11-26T09:00:00+08:00")
		var b bytes.Buffer
		for _, o := range runEngine(t, start, 5*time.Second, time.Minute) {
			fmt.Fprintf(&b, "%v %s %s\n", o.at, o.topic, o.payload)
		}
		return b.Bytes()
	}
	first := render()
	if again := render(); !bytes.Equal(first, again) {
		t.Fatal("two runs with the same seed differ")
	}
	golden(t, "first-minute.golden", first)
}

func TestFacilityFileRoundTrip(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			addresses := map[string]bool{}
			for _, f := range GenerateFacilities(n, "440305007") {
				var b bytes.Buffer
				if err := WriteFacilityFile(&b, f); err != nil {
					t.Fatal(err)
				}
				if n == 1 {
					golden(t, "facility.golden.yaml", b.Bytes())
				}
				got, err := ReadFacilityFile(bytes.NewReader(b.Bytes()))
				if err != nil {
					t.Fatal(err)
				}
				if want := FacilityFileFor(f); !reflect.DeepEqual(got, want) {
					t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
				}
				m, err := registry.New("simulated", got)
				if err != nil {
					t.Fatal(err)
				}
				if m.Region.County() != "440305" || len(m.Devices) != len(f.Devices) || !m.HasGateway("gw-"+f.ID) {
					t.Errorf("model %+v", m.Facility)
				}
				for _, d := range got.Devices {
					key := d.Source + " " + d.Address
					if addresses[key] {
						t.Errorf("address %s used by two facilities", key)
					}
					addresses[key] = true
				}
			}
		})
	}
}

func TestReadFacilityFileRejects(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "facility: {id: a, colour: red}\n", "colour"},
		{"bad interval", "devices: [{id: a, interval: soon}]\n", "interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadFacilityFile(strings.NewReader(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
